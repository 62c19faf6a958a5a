import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, open, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgmlType, GgufValueType } from '../../daemon/gguf/ggml-types.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import { assertTensorType, openGguf, readTensorBytes } from '../../daemon/gguf/gguf-reader.js';
import { meta, writeGguf } from '../../daemon/gguf/gguf-writer.js';
import type { GgufWriteTensor } from '../../daemon/gguf/gguf-writer.js';
import {
  metaArray, metaBool, metaF32, metaNumArray, metaStr, metaStrArray, metaU32, metaU32PerLayer,
} from '../../daemon/gguf/gguf-metadata.js';
import { dequantizeRow, quantizeRow } from '../../daemon/gguf/quantize.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gguf-reader-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** File descriptors of this process that point at `path` (Linux /proc). */
async function fdsOpenOn(path: string): Promise<number> {
  let n = 0;
  for (const fd of await readdir('/proc/self/fd').catch(() => [] as string[])) {
    const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
    if (target === path) n++;
  }
  return n;
}

function values(n: number, seed: number): Float32Array {
  return new Float32Array(n).map((_, i) => Math.cos(i * 0.11 + seed) * (1 + (i % 5)));
}

const isErr = (code: string, re: RegExp) => (e: unknown) => {
  assert.ok(e instanceof GgufError, String(e));
  assert.equal(e.code, code, e.message);
  assert.match(e.message, re);
  return true;
};

test('round trip: writer → reader gives back metadata, types, tensor infos and data', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'rt.gguf');
  const tokens = Array.from({ length: 1000 }, (_, i) => (i % 3 === 0 ? `tok${i}` : i % 3 === 1 ? `Ġ¿ü${i}` : ''));
  const tensors: GgufWriteTensor[] = [
    { name: 'token_embd.weight', dims: [64, 10], type: GgmlType.Q8_0, data: () => values(640, 1) },
    { name: 'output_norm.weight', dims: [64], type: GgmlType.F32, data: () => values(64, 2) },
    { name: 'blk.0.ffn_up_exps.weight', dims: [32, 6, 4], type: GgmlType.Q4_0, data: () => values(768, 3) },
    { name: 'blk.0.attn_q.weight', dims: [5, 3], type: GgmlType.F16, data: () => values(15, 4) },
  ];
  await writeGguf(path, [
    meta.str('general.architecture', 'qwen3moe'),
    meta.u32('qwen3moe.block_count', 1),
    meta.f32('qwen3moe.attention.layer_norm_rms_epsilon', 1e-6),
    meta.bool('x.flag', false),
    meta.i32('x.neg', -7),
    meta.u64('x.big', 2n ** 63n + 5n),
    meta.i64('x.i64', -3n),
    meta.u8('x.u8', 200),
    meta.f64('x.f64', 1 / 3),
    meta.arrStr('tokenizer.ggml.tokens', tokens),
    meta.arrI32('tokenizer.ggml.token_type', tokens.map((_, i) => (i % 4) - 1)),
    meta.arrF32('tokenizer.ggml.scores', tokens.map((_, i) => i * 0.5)),
    meta.arrU32('x.per_layer', [7]),
    meta.arrBool('x.bools', [true, false, true]),
  ], tensors, { alignment: 64 });

  const f = await openGguf(path);
  t.after(() => f.close());
  assert.equal(f.version, 3);
  assert.equal(f.alignment, 64);
  assert.equal(f.dataOffset % 64, 0);
  assert.equal(f.fileSize, (await readFile(path)).length);
  assert.equal(f.metadata.get('general.architecture'), 'qwen3moe');
  assert.equal(f.metadataTypes.get('qwen3moe.block_count'), GgufValueType.UINT32);
  assert.equal(f.metadata.get('qwen3moe.attention.layer_norm_rms_epsilon'), Math.fround(1e-6));
  assert.equal(f.metadata.get('x.flag'), false);
  assert.equal(f.metadata.get('x.neg'), -7);
  assert.equal(f.metadata.get('x.big'), 2n ** 63n + 5n);
  assert.equal(f.metadata.get('x.i64'), -3n);
  assert.equal(f.metadata.get('x.u8'), 200);
  assert.equal(f.metadata.get('x.f64'), 1 / 3);
  assert.deepEqual(f.metadata.get('tokenizer.ggml.tokens'), tokens);
  assert.equal(f.metadataArrayTypes.get('tokenizer.ggml.tokens'), GgufValueType.STRING);
  const tt = f.metadata.get('tokenizer.ggml.token_type');
  assert.ok(tt instanceof Int32Array);
  assert.deepEqual([...tt], tokens.map((_, i) => (i % 4) - 1));
  const sc = f.metadata.get('tokenizer.ggml.scores');
  assert.ok(sc instanceof Float32Array);
  assert.equal(sc[999], 499.5);
  assert.deepEqual(f.metadata.get('x.bools'), [true, false, true]);
  assert.equal(f.metadata.get('general.alignment'), 64);

  assert.deepEqual(f.tensors.map((x) => x.name), tensors.map((x) => x.name));
  let prevEnd = f.dataOffset;
  for (const spec of tensors) {
    const info = f.tensorByName.get(spec.name)!;
    assert.deepEqual(info.dims, spec.dims);
    assert.equal(info.type, spec.type);
    const src = (await spec.data()) as Float32Array;
    assert.equal(info.nElements, src.length);
    const expected = quantizeRow(spec.type, src);
    assert.equal(info.byteSize, expected.length);
    assert.equal(info.offset % 64, 0);
    assert.ok(info.offset >= prevEnd);
    prevEnd = info.offset + info.byteSize;
    assert.deepEqual(await readTensorBytes(f, info), expected, spec.name);
  }
  // F32 tensor data comes back exactly; reading into a caller's buffer works
  const norm = f.tensorByName.get('output_norm.weight')!;
  const buf = new Uint8Array(1024);
  const got = await f.read(norm.offset, norm.byteSize, buf);
  assert.equal(got.buffer, buf.buffer);
  assert.deepEqual(dequantizeRow(GgmlType.F32, got, 64), values(64, 2));
  // reads past the end are refused
  await assert.rejects(f.read(f.fileSize - 4, 8), isErr('TRUNCATED', /past the end/));
});

test('GGUF v2 files parse like v3', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'v2.gguf');
  await writeGguf(path, [meta.str('general.architecture', 'llama')], [
    { name: 'w', dims: [32, 2], type: GgmlType.Q8_0, data: () => values(64, 0) },
  ]);
  const bytes = await readFile(path);
  bytes.writeUInt32LE(2, 4); // version field follows the 4-byte magic
  await writeFile(path, bytes);
  const f = await openGguf(path);
  assert.equal(f.version, 2);
  assert.equal(f.tensors[0]!.byteSize, 68);
  await f.close();
});

test('file handle is closed by close(), and read after close is refused', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'fd.gguf');
  await writeGguf(path, [], [{ name: 'w', dims: [4], type: GgmlType.F32, data: () => values(4, 0) }]);
  const f = await openGguf(path);
  assert.equal(await fdsOpenOn(path), 1);
  await f.close();
  assert.equal(await fdsOpenOn(path), 0);
  await f.close(); // idempotent
  await assert.rejects(f.read(0, 4), isErr('BAD_ARGUMENT', /after close/));
});

test('a tensor of a type unknown to ggml is recorded, not fatal; using it gives UNSUPPORTED_TYPE', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'unk.gguf');
  await writeGguf(path, [], [
    { name: 'a', dims: [4], type: GgmlType.F32, data: () => values(4, 0) },
    { name: 'b', dims: [4], type: GgmlType.F32, data: () => values(4, 1) },
  ]);
  // no metadata: tensor infos start at 24; 'a' info = 8+1 name, 4 n_dims, 8 dim, then the u32 type
  const typeAt = 24 + 8 + 1 + 4 + 8;
  const bytes = await readFile(path);
  assert.equal(bytes.readUInt32LE(typeAt), GgmlType.F32);
  bytes.writeUInt32LE(99, typeAt);
  await writeFile(path, bytes);
  const f = await openGguf(path);
  t.after(() => f.close());
  const a = f.tensorByName.get('a')!;
  assert.equal(a.type, 99);
  assert.equal(a.byteSize, -1);
  assert.throws(() => assertTensorType(a, [GgmlType.F32]), isErr('UNSUPPORTED_TYPE', /'a'.*unknown\(99\)/));
  await assert.rejects(readTensorBytes(f, a), isErr('UNSUPPORTED_TYPE', /'a'/));
  assert.deepEqual(dequantizeRow(GgmlType.F32, await readTensorBytes(f, f.tensorByName.get('b')!), 4), values(4, 1));
  assert.throws(() => assertTensorType(f.tensorByName.get('b')!, [GgmlType.Q8_0], 'matrix'), isErr('UNSUPPORTED_TYPE', /matrix 'b' has type F32; supported: Q8_0/));
});

test('large vocabulary header (200k tokens) parses quickly through the buffered reader', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'vocab.gguf');
  const n = 200_000;
  const tokens = Array.from({ length: n }, (_, i) => `▁token_${i}_${'x'.repeat(i % 17)}`);
  await writeGguf(path, [
    meta.arrStr('tokenizer.ggml.tokens', tokens),
    meta.arrI32('tokenizer.ggml.token_type', new Int32Array(n).fill(1)),
    meta.arrF32('tokenizer.ggml.scores', new Float32Array(n)),
  ], [{ name: 'w', dims: [4], type: GgmlType.F32, data: () => values(4, 0) }]);
  const t0 = performance.now();
  const f = await openGguf(path);
  const ms = performance.now() - t0;
  t.after(() => f.close());
  const got = f.metadata.get('tokenizer.ggml.tokens') as string[];
  assert.equal(got.length, n);
  assert.equal(got[123_456], tokens[123_456]);
  assert.equal(got[n - 1], tokens[n - 1]);
  assert.ok(ms < 5000, `parse took ${ms.toFixed(0)} ms`);
});

test('typed metadata accessors: values, defaults, MISSING_KEY and BAD_VALUE_TYPE naming the key', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'meta.gguf');
  await writeGguf(path, [
    meta.u32('k.u32', 7),
    meta.i32('k.i32', 9),
    meta.i32('k.neg', -1),
    meta.u64('k.u64', 5n),
    meta.f32('k.f32', 0.1),
    meta.f64('k.f64', 0.1),
    meta.str('k.str', 'hi'),
    meta.bool('k.bool', true),
    meta.arrStr('k.strs', ['a', 'b']),
    meta.arrI32('k.i32s', [3, 3, 4]),
  ], []);
  const f = await openGguf(path);
  t.after(() => f.close());
  assert.equal(metaU32(f, 'k.u32'), 7);
  assert.equal(metaU32(f, 'k.i32'), 9, 'any integer type accepted for u32 keys');
  assert.equal(metaU32(f, 'k.u64'), 5);
  assert.throws(() => metaU32(f, 'k.i32', undefined, { strict: true }), isErr('BAD_VALUE_TYPE', /'k\.i32' has type INT32, expected UINT32/));
  assert.throws(() => metaU32(f, 'k.neg'), isErr('BAD_VALUE_TYPE', /'k\.neg' = -1 does not fit/));
  assert.throws(() => metaU32(f, 'k.str'), isErr('BAD_VALUE_TYPE', /'k\.str' has type STRING/));
  assert.throws(() => metaU32(f, 'k.nope'), isErr('MISSING_KEY', /'k\.nope'/));
  assert.equal(metaU32(f, 'k.nope', 3), 3);
  assert.equal(metaF32(f, 'k.f32'), Math.fround(0.1));
  assert.equal(metaF32(f, 'k.f64'), Math.fround(0.1));
  assert.throws(() => metaF32(f, 'k.f64', undefined, { strict: true }), isErr('BAD_VALUE_TYPE', /FLOAT64, expected FLOAT32/));
  assert.throws(() => metaF32(f, 'k.u32'), isErr('BAD_VALUE_TYPE', /'k\.u32'/));
  assert.equal(metaStr(f, 'k.str'), 'hi');
  assert.throws(() => metaStr(f, 'k.bool'), isErr('BAD_VALUE_TYPE', /'k\.bool' has type BOOL, expected STRING/));
  assert.equal(metaBool(f, 'k.bool'), true);
  assert.equal(metaBool(f, 'k.none', false), false);
  assert.deepEqual(metaStrArray(f, 'k.strs'), ['a', 'b']);
  assert.throws(() => metaStrArray(f, 'k.i32s'), isErr('BAD_VALUE_TYPE', /'k\.i32s' has type ARRAY\[INT32\], expected ARRAY\[STRING\]/));
  assert.deepEqual(metaNumArray(f, 'k.i32s'), [3, 3, 4]);
  assert.ok(metaArray(f, 'k.i32s') instanceof Int32Array);
  assert.deepEqual(metaU32PerLayer(f, 'k.u32', 3), [7, 7, 7]);
  assert.deepEqual(metaU32PerLayer(f, 'k.i32s', 3), [3, 3, 4]);
  assert.throws(() => metaU32PerLayer(f, 'k.i32s', 4), isErr('BAD_VALUE_TYPE', /expected 4.*got 3/));
});

test('reader never needs more than the header: a file whose data region is unreadable still opens', async (t) => {
  // The header is parsed from the start of the file only; we check by making the data region huge and
  // sparse (no bytes written) and timing the open.
  const dir = await tempDir(t);
  const path = join(dir, 'sparse.gguf');
  await writeGguf(path, [], [{ name: 'w', dims: [4], type: GgmlType.F32, data: () => values(4, 0) }]);
  const fh = await open(path, 'r+');
  await fh.truncate(2 ** 33); // 8 GiB sparse tail
  await fh.close();
  const t0 = performance.now();
  const f = await openGguf(path);
  assert.ok(performance.now() - t0 < 2000);
  assert.equal(f.fileSize, 2 ** 33);
  await f.close();
});
