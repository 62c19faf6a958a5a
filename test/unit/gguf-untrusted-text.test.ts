/**
 * Bytes from a file never reach a message unbounded or unescaped: GGUF keys, string values and tensor
 * names are cut to a few hundred characters with their length, control characters are escaped, a file
 * that is not a GGUF is named as such without echoing its content, and a path that is not a regular
 * file (a FIFO, which blocks on open) is refused without opening it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GgufValueType } from '../../daemon/gguf/ggml-types.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { escapeControlCharacters, untrustedText, UNTRUSTED_MESSAGE_MAX } from '../../daemon/gguf/untrusted-text.js';
import { readModelConfig } from '../../daemon/model/hparams.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'moecode-untrusted-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A GGUF v3 header with no tensors, written byte by byte so keys may be anything (duplicates, bad types). */
function rawGguf(entries: { key: string; type: number; value?: string | number }[]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    parts.push(b);
  };
  const u64 = (v: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    parts.push(b);
  };
  const str = (s: string) => {
    const b = Buffer.from(s, 'utf8');
    u64(b.length);
    parts.push(b);
  };
  parts.push(Buffer.from('GGUF', 'latin1'));
  u32(3);
  u64(0);
  u64(entries.length);
  for (const e of entries) {
    str(e.key);
    u32(e.type);
    if (e.type === GgufValueType.STRING) str(String(e.value));
    else if (e.type === GgufValueType.UINT32) u32(Number(e.value));
    else u32(0); // an invalid type: the reader stops before its value
  }
  return Buffer.concat(parts);
}

async function save(name: string, bytes: Buffer | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return path;
}

async function openError(path: string): Promise<GgufError> {
  try {
    const f = await openGguf(path);
    await f.close();
  } catch (e) {
    assert.ok(e instanceof GgufError, String(e));
    return e;
  }
  assert.fail(`${path} opened`);
}

const FOUR_MB = 4 * 1024 * 1024;
const ANSI_RED = '\u001b[31m';

test('untrustedText: escapes control characters and cuts long text with its length', () => {
  assert.equal(untrustedText(`${ANSI_RED}red\u001b[0m`), '\\x1b[31mred\\x1b[0m');
  assert.equal(untrustedText('a\nb\tc\r\u0000\u007f\u009b'), 'a\\nb\\tc\\r\\x00\\x7f\\x9b');
  assert.equal(untrustedText('abc\u202edef'), 'abc\\u{202e}def', 'a right-to-left override cannot reorder the message');
  assert.equal(untrustedText('llama.context_length'), 'llama.context_length', 'ordinary text is unchanged');
  const long = untrustedText('k'.repeat(FOUR_MB));
  assert.ok(long.length < 260, `${long.length} characters`);
  assert.match(long, /^k{200}… \(4194304 characters\)$/);
  // a cut never splits a surrogate pair
  const emoji = untrustedText('😀'.repeat(300), 201);
  assert.doesNotMatch(emoji, /[\ud800-\udbff](?![\udc00-\udfff])/);
  assert.equal(escapeControlCharacters(`x${ANSI_RED}`), 'x\\x1b[31m');
});

test('a 4 MB key in an error is cut to a few hundred characters with its length', async () => {
  const key = 'k'.repeat(FOUR_MB);
  const dup = await openError(await save('dup-key.gguf', rawGguf([
    { key, type: GgufValueType.UINT32, value: 1 },
    { key, type: GgufValueType.UINT32, value: 2 },
  ])));
  assert.equal(dup.code, 'BAD_STRING');
  assert.ok(dup.message.length < 400, `duplicate-key message is ${dup.message.length} characters`);
  assert.match(dup.message, /duplicate metadata key 'k+… \(4194304 characters\)'/);
  const badType = await openError(await save('bad-type.gguf', rawGguf([{ key, type: 99 }])));
  assert.equal(badType.code, 'BAD_VALUE_TYPE');
  assert.ok(badType.message.length < 400, `bad-type message is ${badType.message.length} characters`);
  assert.match(badType.message, /invalid value type 99/, 'the rest of the message survives the cut');
});

test('a 4 MB architecture name is bounded in the hyperparameter error too', async () => {
  const f = await openGguf(await save('long-arch.gguf', rawGguf([{ key: 'general.architecture', type: GgufValueType.STRING, value: 'a'.repeat(FOUR_MB) }])));
  try {
    assert.throws(() => readModelConfig(f), (e: unknown) => {
      assert.ok(e instanceof GgufError && e.code === 'UNSUPPORTED_ARCH', String(e));
      assert.ok(e.message.length < 400, `${e.message.length} characters`);
      assert.match(e.message, /architecture 'a{200}… \(4194304 characters\)' is not supported/);
      return true;
    });
  } finally {
    await f.close();
  }
});

test('every GgufError is bounded and escaped, even where the thrower did not quote the file', () => {
  const e = new GgufError('BAD_STRING', `value '${'v'.repeat(FOUR_MB)}${ANSI_RED}'`);
  assert.ok(e.message.length <= UNTRUSTED_MESSAGE_MAX + 40, `${e.message.length} characters`);
  assert.match(e.message, /^value .v+… \(4194317 characters\)$/);
  assert.doesNotMatch(new GgufError('BAD_STRING', `x${ANSI_RED}`).message, /\u001b/);
});

test('control characters in keys and names are escaped in errors', async () => {
  const e = await openError(await save('ansi-key.gguf', rawGguf([{ key: `evil${ANSI_RED}\nFAKE LOG LINE`, type: 99 }])));
  assert.doesNotMatch(e.message, /[\u0000-\u001f]/, 'no raw control character');
  assert.match(e.message, /evil\\x1b\[31m\\nFAKE LOG LINE/);
  const f = await openGguf(await save('ansi-arch.gguf', rawGguf([{ key: 'general.architecture', type: GgufValueType.STRING, value: `x${ANSI_RED}` }])));
  try {
    assert.throws(() => readModelConfig(f), (err: unknown) => err instanceof GgufError && !/\u001b/.test(err.message) && /x\\x1b\[31m/.test(err.message));
  } finally {
    await f.close();
  }
});

test('/etc/passwd as a model: "not a GGUF file", without its content', async (t) => {
  if (!existsSync('/etc/passwd')) return t.skip('no /etc/passwd on this system');
  const e = await openError('/etc/passwd');
  assert.equal(e.code, 'NOT_GGUF');
  assert.match(e.message, /passwd: not a GGUF file/);
  assert.doesNotMatch(e.message, /root|72 6f 6f 74/, 'neither the text nor the hex of the first bytes');
});

test('a FIFO is refused at once as not a regular file (opening it would block)', async (t) => {
  const fifo = join(dir, 'model.fifo');
  try {
    execFileSync('mkfifo', [fifo]);
  } catch (e) {
    return t.skip(`mkfifo failed: ${(e as Error).message}`);
  }
  const started = performance.now();
  const outcome = await Promise.race([
    openError(fifo),
    new Promise<'blocked'>((r) => setTimeout(() => r('blocked'), 3000).unref()),
  ]);
  assert.notEqual(outcome, 'blocked', 'openGguf blocked on the FIFO');
  const e = outcome as GgufError;
  assert.equal(e.code, 'NOT_A_FILE');
  assert.match(e.message, /named pipe \(FIFO\), not a regular file/);
  assert.ok(performance.now() - started < 1000);
});
