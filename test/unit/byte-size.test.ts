/** Sizes as `--gpu-budget`, MOECODE_GPU_BUDGET and MOECODE_HOST_CACHE take them (daemon/model/byte-size.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ByteSizeError, formatBytes, parseByteSize } from '../../daemon/model/byte-size.js';

test('plain bytes, binary and decimal units, fractions, spaces and case', () => {
  assert.equal(parseByteSize('536870912'), 536870912);
  assert.equal(parseByteSize('512MiB'), 512 * 1024 ** 2);
  assert.equal(parseByteSize('6GiB'), 6 * 1024 ** 3);
  assert.equal(parseByteSize('6gib'), 6 * 1024 ** 3);
  assert.equal(parseByteSize(' 1.5 GiB '), 1.5 * 1024 ** 3);
  assert.equal(parseByteSize('800MB'), 800e6);
  assert.equal(parseByteSize('64k'), 65536);
  assert.equal(parseByteSize('2T'), 2 * 1024 ** 4);
  assert.equal(parseByteSize('10B'), 10);
  assert.equal(parseByteSize('0.5KiB'), 512);
});

test('bad sizes are ByteSizeErrors naming the source', () => {
  for (const bad of ['', 'abc', '-5MiB', '5 XB', '1e9', '0x100', '5MiB6', 'MiB', '2000TiB']) {
    assert.throws(() => parseByteSize(bad, '--gpu-budget'), (e: unknown) => e instanceof ByteSizeError && e.message.startsWith('--gpu-budget:'), bad);
  }
});

test('formatBytes picks the unit', () => {
  assert.equal(formatBytes(812), '812 B');
  assert.equal(formatBytes(2048), '2.0 KiB');
  assert.equal(formatBytes(512 * 1024 ** 2), '512.0 MiB');
  assert.equal(formatBytes(6 * 1024 ** 3), '6.00 GiB');
});
