import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gguf as hfGguf } from '@huggingface/gguf';
import { GgmlType, GgufValueType } from '../../daemon/gguf/ggml-types.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import { meta, writeGguf } from '../../daemon/gguf/gguf-writer.js';
import type { GgufWriteTensor } from '../../daemon/gguf/gguf-writer.js';
import { dequantizeRow, quantizeRow } from '../../daemon/gguf/quantize.js';

async function tempDir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gguf-writer-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function ramp(n: number, scale: number): Float32Array {
  return new Float32Array(n).map((_, i) => Math.sin(i * 0.37 + scale) * scale);
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

test('writeGguf output parses with an independent parser (@huggingface/gguf) and holds the quantized data', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'm.gguf');
  const tensors: GgufWriteTensor[] = [
    { name: 'a.f32', dims: [5, 3], type: GgmlType.F32, data: () => ramp(15, 1) },
    { name: 'b.f16', dims: [7], type: GgmlType.F16, data: async () => ramp(7, 2) },
    { name: 'c.q8', dims: [64, 2, 3], type: GgmlType.Q8_0, data: () => ramp(384, 3) },
    { name: 'd.q4', dims: [32, 1, 2, 2], type: GgmlType.Q4_0, data: () => ramp(128, 4) },
  ];
  const metadata = [
    meta.str('general.architecture', 'llama'),
    meta.str('general.name', 'naïve ✓ model'),
    meta.u32('llama.block_count', 3),
    meta.i32('x.i32', -5),
    meta.f32('x.f32', 0.25),
    meta.bool('x.bool', true),
    meta.u64('x.u64', 2n ** 40n + 3n),
    meta.arrStr('tokenizer.ggml.tokens', ['a', '', 'ü', '<s>']),
    meta.arrI32('x.arr_i32', [1, -2, 3]),
    meta.arrF32('x.arr_f32', [0.5, -1.5]),
    meta.arrU32('x.arr_u32', [4000000000]),
  ];
  await writeGguf(path, metadata, tensors);
  assert.deepEqual(await readdir(dir), ['m.gguf'], 'temporary file renamed away');

  const parsed = await hfGguf(path, { allowLocalFile: true });
  const md = parsed.metadata as Record<string, unknown>;
  assert.equal(md['version'], 3);
  assert.equal(md['general.architecture'], 'llama');
  assert.equal(md['general.name'], 'naïve ✓ model');
  assert.equal(md['llama.block_count'], 3);
  assert.equal(md['x.i32'], -5);
  assert.equal(md['x.f32'], 0.25);
  assert.equal(md['x.bool'], true);
  assert.equal(md['x.u64'], 2n ** 40n + 3n);
  assert.deepEqual(md['tokenizer.ggml.tokens'], ['a', '', 'ü', '<s>']);
  assert.deepEqual(md['x.arr_i32'], [1, -2, 3]);
  assert.deepEqual(md['x.arr_f32'], [0.5, -1.5]);
  assert.deepEqual(md['x.arr_u32'], [4000000000]);
  assert.equal(md['general.alignment'], undefined, 'default alignment is not written');

  assert.equal(parsed.tensorInfos.length, 4);
  const dataOffset = Number(parsed.tensorDataOffset);
  assert.equal(dataOffset % 32, 0);
  const file = await readFile(path);
  const sizes = [15 * 4, 7 * 2, (384 / 32) * 34, (128 / 32) * 18];
  let expectOffset = 0;
  for (let i = 0; i < 4; i++) {
    const info = parsed.tensorInfos[i]!;
    const spec = tensors[i]!;
    assert.equal(info.name, spec.name);
    assert.deepEqual(info.shape.map(Number), spec.dims);
    assert.equal(info.dtype, spec.type);
    assert.equal(Number(info.offset), expectOffset, `${spec.name} offset`);
    const start = dataOffset + Number(info.offset);
    const bytes = new Uint8Array(file.subarray(start, start + sizes[i]!));
    assert.deepEqual(bytes, quantizeRow(spec.type, (await spec.data()) as Float32Array), `${spec.name} bytes`);
    expectOffset += alignUp(sizes[i]!, 32);
  }
  // padding after the last tensor, like ggml's writer
  assert.equal(file.length, dataOffset + expectOffset);
  // the F32 tensor comes back exactly
  const a = dequantizeRow(GgmlType.F32, new Uint8Array(file.subarray(dataOffset, dataOffset + 60)), 15);
  assert.deepEqual(a, ramp(15, 1));
});

test('writeGguf requests tensor data lazily, one tensor at a time, in order', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'lazy.gguf');
  const log: string[] = [];
  let live = 0;
  const mk = (name: string): GgufWriteTensor => ({
    name,
    dims: [32, 4],
    type: GgmlType.Q8_0,
    data: async () => {
      log.push(`start ${name}`);
      assert.equal(live, 0, 'no other tensor data is pending');
      live++;
      await new Promise((r) => setTimeout(r, 5));
      live--;
      log.push(`end ${name}`);
      return ramp(128, name.length);
    },
  });
  const tensors = [mk('t0'), mk('t11'), mk('t222')];
  await writeGguf(path, [meta.str('general.architecture', 'llama')], tensors);
  assert.deepEqual(log, ['start t0', 'end t0', 'start t11', 'end t11', 'start t222', 'end t222']);
});

test('writeGguf honours a custom alignment and records general.alignment', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'a64.gguf');
  await writeGguf(path, [meta.str('general.architecture', 'llama')], [
    { name: 'x', dims: [3], type: GgmlType.F32, data: () => new Float32Array([1, 2, 3]) },
    { name: 'y', dims: [3], type: GgmlType.F32, data: () => new Float32Array([4, 5, 6]) },
  ], { alignment: 64 });
  const parsed = await hfGguf(path, { allowLocalFile: true });
  assert.equal((parsed.metadata as Record<string, unknown>)['general.alignment'], 64);
  assert.equal(Number(parsed.tensorDataOffset) % 64, 0);
  assert.equal(Number(parsed.tensorInfos[1]!.offset), 64);
  assert.equal((await stat(path)).size, Number(parsed.tensorDataOffset) + 128);
});

test('writeGguf rejects bad input with GgufError and leaves no file behind', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'bad.gguf');
  const f32 = (name: string, dims: number[], type = GgmlType.F32): GgufWriteTensor => ({
    name, dims, type, data: () => new Float32Array(dims.reduce((a, b) => a * b, 1)),
  });
  const cases: [string, () => Promise<void>, string, RegExp][] = [
    ['partial Q8_0 row', () => writeGguf(path, [], [f32('w', [33, 2], GgmlType.Q8_0)]), 'BAD_SHAPE', /'w'.*ne\[0\] = 33.*32/],
    ['5 dims', () => writeGguf(path, [], [f32('w', [1, 1, 1, 1, 1])]), 'BAD_SHAPE', /n_dims/],
    ['zero dim', () => writeGguf(path, [], [f32('w', [4, 0])]), 'BAD_SHAPE', /positive/],
    ['duplicate tensor', () => writeGguf(path, [], [f32('w', [4]), f32('w', [4])]), 'BAD_STRING', /duplicate tensor name 'w'/],
    ['long name', () => writeGguf(path, [], [f32('x'.repeat(64), [4])]), 'BAD_STRING', /1\.\.63 bytes/],
    ['unwritable type', () => writeGguf(path, [], [f32('w', [256], GgmlType.Q4_K)]), 'UNSUPPORTED_TYPE', /Q4_K/],
    ['duplicate key', () => writeGguf(path, [meta.u32('k', 1), meta.u32('k', 2)], []), 'BAD_STRING', /duplicate metadata key 'k'/],
    ['u32 out of range', () => writeGguf(path, [meta.u32('k', -1)], []), 'BAD_VALUE_TYPE', /'k'.*UINT32/],
    ['string as u32', () => writeGguf(path, [{ key: 'k', type: GgufValueType.UINT32, value: '3' }], []), 'BAD_VALUE_TYPE', /'k'/],
    ['array of arrays', () => writeGguf(path, [{ key: 'k', type: GgufValueType.ARRAY, arrayType: GgufValueType.ARRAY, value: [] }], []), 'BAD_VALUE_TYPE', /'k'/],
    ['bad array element', () => writeGguf(path, [meta.arrI32('k', [1, 2.5])], []), 'BAD_VALUE_TYPE', /'k\[1\]'/],
    ['alignment not power of two', () => writeGguf(path, [], [], { alignment: 48 }), 'BAD_ALIGNMENT', /48/],
    ['alignment disagrees', () => writeGguf(path, [meta.u32('general.alignment', 64)], [], { alignment: 32 }), 'BAD_ALIGNMENT', /disagrees/],
    ['wrong data length', () => writeGguf(path, [], [{ name: 'w', dims: [4, 2], type: GgmlType.F32, data: () => new Float32Array(7) }]), 'BAD_SHAPE', /'w'.*7 values.*8/],
  ];
  for (const [what, run, code, msg] of cases) {
    await assert.rejects(run, (e: unknown) => {
      assert.ok(e instanceof GgufError, `${what}: ${String(e)}`);
      assert.equal(e.code, code, `${what}: ${e.message}`);
      assert.match(e.message, msg, what);
      return true;
    }, what);
    assert.deepEqual(await readdir(dir), [], `${what}: no file left behind`);
  }
  // a data() that throws mid-way removes the temporary file
  await assert.rejects(writeGguf(path, [], [f32('ok', [4]), { name: 'boom', dims: [4], type: GgmlType.F32, data: () => { throw new Error('boom'); } }]), /boom/);
  assert.deepEqual(await readdir(dir), []);
});
