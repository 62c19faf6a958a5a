/**
 * shaders/copy_rows.wgsl vs daemon/gpu/cpu-reference/copy-rows.ts: the V-cache write. Exact (a copy).
 */
import assert from 'node:assert/strict';
import { copyRowsRef } from '../../daemon/gpu/cpu-reference/copy-rows.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { assertSameF32Bits, randn, seeded } from './kernel-test-utils.js';

async function copyRows(h: GpuKernelHarness, n: number, n_tokens: number, pos_start: number, kv_base: number, src: Float32Array, dst: Float32Array): Promise<Float32Array> {
  const out = await h.run({
    kernel: 'copy_rows',
    step: { n_tokens, pos_start, kv_base },
    params: [n],
    bindings: { 2: src, 3: dst },
    dispatch: grid((n_tokens * n) / 4),
    read: [3],
  });
  return new Float32Array(out[3]!);
}

kernelTest('copy_rows: rows land at kv_base + pos_start + t, n 64..1024, n_tokens 1..70; the rest of the cache is untouched', async (h) => {
  const rnd = seeded(31);
  const cases = [
    { n: 64, n_tokens: 1, pos_start: 0, kv_base: 0 },
    { n: 128, n_tokens: 3, pos_start: 9, kv_base: 0 },
    { n: 256, n_tokens: 5, pos_start: 0, kv_base: 64 },
    { n: 1024, n_tokens: 17, pos_start: 30, kv_base: 128 },
    { n: 4, n_tokens: 70, pos_start: 2, kv_base: 77 },
    { n: 132, n_tokens: 67, pos_start: 1, kv_base: 3 },
  ];
  for (const c of cases) {
    const rows = c.kv_base + c.pos_start + c.n_tokens + 3;
    // src holds one more row than the step has tokens: it must not be copied.
    const src = randn((c.n_tokens + 1) * c.n, rnd);
    const dst = randn(rows * c.n, rnd);
    const y = await copyRows(h, c.n, c.n_tokens, c.pos_start, c.kv_base, src, dst);
    assertSameF32Bits(y, Float32Array.from(copyRowsRef(src, dst, c.n, c.n_tokens, c.pos_start, c.kv_base)), JSON.stringify(c));
  }
});

kernelTest('copy_rows: more than 65535 workgroups (2-D fold), 4100 tokens of 4096 values', async (h) => {
  const rnd = seeded(32);
  const n = 4096;
  const n_tokens = 4100;
  assert.ok(grid((n_tokens * n) / 4)[1] > 1);
  const src = new Float32Array(n_tokens * n);
  for (let i = 0; i < src.length; i++) src[i] = i; // exact in f32 below 2^24
  const dst = randn((n_tokens + 2) * n, rnd);
  const y = await copyRows(h, n, n_tokens, 1, 1, src, dst);
  assertSameF32Bits(y, Float32Array.from(copyRowsRef(src, dst, n, n_tokens, 1, 1)), 'folded grid');
});
