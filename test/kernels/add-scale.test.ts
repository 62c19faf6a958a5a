/**
 * shaders/add.wgsl and shaders/scale.wgsl vs daemon/gpu/cpu-reference/{add,scale}.ts.
 * add: dst + s·src may be one fused multiply-add on the GPU: |err| <= 2^-23 · (|dst| + |s·src|).
 * add, gated mode: dst + sigmoid(gate[t])·src (f32 exp and a division): |err| <= 1e-6 · (|dst| + |src|).
 * scale: one f32 multiplication, bit-exact.
 */
import assert from 'node:assert/strict';
import { addGatedRef, addRef } from '../../daemon/gpu/cpu-reference/add.js';
import { scaleRef } from '../../daemon/gpu/cpu-reference/scale.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { assertClose, assertSameF32Bits, randn, seeded } from './kernel-test-utils.js';

const shapes = [
  { n: 64, n_tokens: 1 },
  { n: 37, n_tokens: 3 },
  { n: 4096, n_tokens: 5 },
  { n: 130, n_tokens: 17 },
  { n: 64, n_tokens: 70 },
  { n: 4096, n_tokens: 1025 }, // 4.2M elements: more than 65535 workgroups, the grid folds into y
];

async function add(h: GpuKernelHarness, n: number, n_tokens: number, s: number, src: Float32Array, dst: Float32Array): Promise<Float32Array> {
  // Dispatched over the whole buffer (one row more than the step): the kernel's own bound must stop it.
  const out = await h.run({ kernel: 'add', step: { n_tokens }, params: [n, { f32: s }, 0], bindings: { 2: src, 3: dst, 4: { bytes: 16 } }, dispatch: grid(src.length), read: [3] });
  return new Float32Array(out[3]!);
}

kernelTest('add: dst += scale · src over n_tokens rows (scale 1 and a residual multiplier), rows past the step untouched, folded grid', async (h) => {
  const rnd = seeded(61);
  for (const c of shapes) {
    for (const s of [1, 0.22]) {
      const count = c.n * c.n_tokens;
      const src = randn(count + c.n, rnd);
      const dst = randn(count + c.n, rnd);
      const y = await add(h, c.n, c.n_tokens, s, src, dst);
      const ref = addRef(dst, src, Math.fround(s), count);
      const what = `${JSON.stringify(c)} scale ${s}`;
      assertClose(y, ref, { rtol: 2 ** -23, scale: Float64Array.from(ref, (_, i) => Math.abs(dst[i]!) + Math.abs(Math.fround(s) * src[i]!)), what });
      assertSameF32Bits(y.subarray(count), dst.subarray(count), `${what}: past the step`);
    }
  }
  assert.ok(grid(shapes.at(-1)!.n * shapes.at(-1)!.n_tokens)[1] > 1);
});

kernelTest('add, gated: dst += sigmoid(gate[t]) · src (a sigmoid-gated shared expert), rows past the step untouched', async (h) => {
  const rnd = seeded(63);
  for (const c of shapes.slice(0, 5)) {
    const count = c.n * c.n_tokens;
    const src = randn(count + c.n, rnd);
    const dst = randn(count + c.n, rnd);
    const gate = randn(c.n_tokens + 1, rnd, 3);
    const out = await h.run({ kernel: 'add', step: { n_tokens: c.n_tokens }, params: [c.n, { f32: 7 }, 1], bindings: { 2: src, 3: dst, 4: gate }, dispatch: grid(src.length), read: [3] });
    const y = new Float32Array(out[3]!);
    const ref = addGatedRef(dst, src, gate, c.n, count);
    const what = `${JSON.stringify(c)} gated`;
    assertClose(y.subarray(0, count), ref.subarray(0, count), { rtol: 1e-6, scale: Float64Array.from(ref.subarray(0, count), (_, i) => Math.abs(dst[i]!) + Math.abs(src[i]!)), what });
    assertSameF32Bits(y.subarray(count), dst.subarray(count), `${what}: past the step`);
  }
});

kernelTest('scale: mode 0 (token rows x rows_per_token) and mode 1 (logits rows), rows past the step untouched, folded grid', async (h) => {
  const rnd = seeded(62);
  for (const c of shapes) {
    for (const mode of [0, 1] as const) {
      const s = mode === 0 ? Math.SQRT1_2 : 1 / 6;
      // mode 0 scales n_tokens * rows_per_token rows; mode 1 scales step.n_logits rows: give the step a
      // different count of the other kind to see which one is used
      const rowsPerToken = mode === 0 ? 2 : 1;
      const rows = c.n_tokens;
      const step = mode === 0 ? { n_tokens: rows, n_logits: rows + 1 } : { n_tokens: rows + 1, n_logits: rows };
      const buf = randn((rows * rowsPerToken + 2) * c.n, rnd);
      const out = await h.run({ kernel: 'scale', step, params: [c.n, { f32: s }, mode, rowsPerToken], bindings: { 2: buf }, dispatch: grid(buf.length), read: [2] });
      const y = new Float32Array(out[2]!);
      assertSameF32Bits(y, Float32Array.from(scaleRef(buf, Math.fround(s), rows * rowsPerToken * c.n)), `${JSON.stringify(c)} mode ${mode}`);
    }
  }
});
