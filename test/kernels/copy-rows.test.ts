/**
 * shaders/copy_rows.wgsl vs daemon/gpu/cpu-reference/copy-rows.ts: the V-cache write. Exact: a copy (f32
 * cache), or f16 bits identical to daemon/formats/half.ts f32ToF16Bits (f16 cache, ggml's rounding).
 */
import assert from 'node:assert/strict';
import { copyRowsRef } from '../../daemon/gpu/cpu-reference/copy-rows.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { f16BitsToF32, f32ToF16Bits } from '../../daemon/formats/half.js';
import { assertSameF32Bits, assertSameInts, randn, seeded } from './kernel-test-utils.js';

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

// ---- f16 cache (main_f16): halves two per u32, rounded to nearest even as ggml stores them ----

async function copyRowsF16(h: GpuKernelHarness, n: number, n_tokens: number, pos_start: number, kv_base: number, src: Float32Array, dst: Uint16Array): Promise<Uint16Array> {
  const out = await h.run({
    kernel: 'copy_rows',
    entry: 'main_f16',
    step: { n_tokens, pos_start, kv_base },
    params: [n],
    bindings: { 2: src, 4: dst },
    dispatch: grid((n_tokens * n) / 4),
    read: [4],
  });
  return new Uint16Array(out[4]!);
}

/** The expected f16 cache: dst with rows kv_base + pos_start + t replaced by f32ToF16Bits(src). */
function expectedF16(src: Float32Array, dst: Uint16Array, n: number, n_tokens: number, pos_start: number, kv_base: number): Uint16Array {
  const out = Uint16Array.from(dst);
  for (let i = 0; i < n_tokens * n; i++) out[(kv_base + pos_start) * n + i] = f32ToF16Bits(src[i]!);
  return out;
}

/** Values where a conversion to f16 can go wrong: ties (even and odd), subnormals, overflow, specials. */
function trickyValues(): Float32Array {
  const v: number[] = [0, -0, 1, -1, 65504, -65504, 65519.99, 65520, 1e6, Infinity, -Infinity, NaN, 2 ** -14, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -26, 1e-10, 6e-5, 1 / 3];
  for (let m = 0; m < 16; m++) {
    // exactly halfway between two f16 values, with an even and with an odd lower neighbour
    const lo = 1 + m / 1024;
    v.push(lo + 1 / 2048, -(lo + 1 / 2048), (lo + 1 / 2048) * 2 ** -20, lo + 1 / 2048 + 2 ** -30);
  }
  while (v.length % 4) v.push(0.5);
  return Float32Array.from(v);
}

kernelTest('copy_rows main_f16: rows land at kv_base + pos_start + t as f16 bits identical to f32ToF16Bits (ties to even, subnormals, overflow, NaN), the rest untouched', async (h) => {
  const rnd = seeded(33);
  const tricky = trickyValues();
  const cases = [
    { n: 64, n_tokens: 1, pos_start: 0, kv_base: 0 },
    { n: 128, n_tokens: 3, pos_start: 9, kv_base: 0 },
    { n: 4, n_tokens: 70, pos_start: 2, kv_base: 77 },
    { n: 132, n_tokens: 17, pos_start: 1, kv_base: 3 },
    { n: tricky.length, n_tokens: 1, pos_start: 1, kv_base: 2 },
  ];
  for (const c of cases) {
    const rows = c.kv_base + c.pos_start + c.n_tokens + 3;
    const src = c.n === tricky.length ? tricky : randn((c.n_tokens + 1) * c.n, rnd, 3);
    const dst = Uint16Array.from(randn(rows * c.n, rnd), (x) => f32ToF16Bits(x));
    const y = await copyRowsF16(h, c.n, c.n_tokens, c.pos_start, c.kv_base, src, dst);
    assertSameInts(y, expectedF16(src, dst, c.n, c.n_tokens, c.pos_start, c.kv_base), JSON.stringify(c));
    // the reference in daemon/gpu/cpu-reference agrees on the values
    const ref = copyRowsRef(src, Array.from(dst, f16BitsToF32), c.n, c.n_tokens, c.pos_start, c.kv_base, true);
    const got = Array.from(y, f16BitsToF32);
    for (let i = 0; i < ref.length; i++) assert.ok(Object.is(got[i], ref[i]) || (Number.isNaN(got[i]) && Number.isNaN(ref[i])), `[${i}] ${got[i]} vs ${ref[i]}`);
  }
});

kernelTest('copy_rows main_f16: every f16-representable magnitude band, 2^-26 .. 2^17, rounds as ggml', async (h) => {
  const rnd = seeded(34);
  const n = 4096;
  const src = new Float32Array(n);
  for (let i = 0; i < n; i++) src[i] = (rnd() < 0.5 ? -1 : 1) * 2 ** (-26 + 43 * rnd());
  const y = await copyRowsF16(h, n, 1, 0, 0, src, new Uint16Array(n));
  assertSameInts(y, Uint16Array.from(src, (x) => f32ToF16Bits(x)), 'random magnitudes');
});
