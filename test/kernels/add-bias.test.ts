/**
 * shaders/add_bias.wgsl vs daemon/gpu/cpu-reference/add-bias.ts: x[r, i] += b[i] over the step's rows
 * (n_tokens · rows_per_token). One f32 addition per element: bit-exact against the f32 sum.
 */
import assert from 'node:assert/strict';
import { addBiasRef } from '../../daemon/gpu/cpu-reference/add-bias.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { assertSameF32Bits, randn, seeded } from './kernel-test-utils.js';

const shapes = [
  { n: 64, n_tokens: 1, rows_per_token: 1 },
  { n: 96, n_tokens: 3, rows_per_token: 1 }, // a GQA k projection (3 kv heads of 32)
  { n: 37, n_tokens: 5, rows_per_token: 2 }, // odd width, two rows per token
  { n: 4096, n_tokens: 17, rows_per_token: 1 },
  { n: 2048, n_tokens: 2100, rows_per_token: 1 }, // 4.3M elements: more than 65535 workgroups, the grid folds into y
];

async function addBias(h: GpuKernelHarness, c: (typeof shapes)[number], b: Float32Array, x: Float32Array): Promise<Float32Array> {
  // dispatched over the whole buffer (one row more than the step): the kernel's own bound must stop it
  const out = await h.run({ kernel: 'add_bias', step: { n_tokens: c.n_tokens }, params: [c.n, c.rows_per_token], bindings: { 2: b, 3: x }, dispatch: grid(x.length), read: [3] });
  return new Float32Array(out[3]!);
}

kernelTest('add_bias: x[r, :] += b over the step rows (rows_per_token 1 and 2, odd width), rows past the step untouched, folded grid', async (h) => {
  const rnd = seeded(71);
  for (const c of shapes) {
    const rows = c.n_tokens * c.rows_per_token;
    const b = randn(c.n, rnd, 0.5);
    const x = randn((rows + 1) * c.n, rnd);
    const y = await addBias(h, c, b, x);
    const ref = Float32Array.from(addBiasRef(x, b, c.n, rows)); // the f32 sum of two f32 values
    const what = JSON.stringify(c);
    assertSameF32Bits(y.subarray(0, rows * c.n), ref.subarray(0, rows * c.n), what);
    assertSameF32Bits(y.subarray(rows * c.n), x.subarray(rows * c.n), `${what}: past the step`);
    assert.ok(y.subarray(0, c.n).some((v, i) => v !== x[i]), `${what}: the bias changed nothing`);
  }
  assert.ok(grid(shapes.at(-1)!.n * shapes.at(-1)!.n_tokens)[1] > 1);
});
