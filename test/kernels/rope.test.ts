/**
 * shaders/rope.wgsl (main_inplace for q, main_to_cache for k) vs daemon/gpu/cpu-reference/rope.ts.
 * The kernel reads cos/sin from the host table of daemon/gpu/rope-table.ts (its input); the reference
 * computes the angles as ggml-cpu does and cos/sin in float64.
 * Tolerance: |err| <= 1e-6 · (|x_a| + |x_b|) of the rotated pair (the table holds f32 cos/sin); the f16
 * cache write (main_to_cache_f16) also one f16 rounding step (see its test).
 */
import assert from 'node:assert/strict';
import { ropeMscaleRef, ropeRef, ropeToCacheRef, type RopeModeRef, type RopeRefParams } from '../../daemon/gpu/cpu-reference/rope.js';
import { f16BitsToF32, f32ToF16Bits } from '../../daemon/formats/half.js';
import { ropeTable } from '../../daemon/model/rope-table.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { assertClose, randn, seeded } from './kernel-test-utils.js';

const RTOL = 1e-6;

/** |x_a| + |x_b| of the pair each output element belongs to (|x| for pass-through dims). */
function pairMagnitude(x: Float32Array, n_rows: number, p: RopeRefParams): Float64Array {
  const out = new Float64Array(n_rows * p.head_dim);
  const half = p.n_rot / 2;
  for (let r = 0; r < n_rows; r++) {
    const b = r * p.head_dim;
    for (let d = 0; d < p.head_dim; d++) {
      if (d >= p.n_rot) {
        out[b + d] = Math.abs(x[b + d]!);
        continue;
      }
      const [a, c] = p.mode === 'norm' ? [d & ~1, d | 1] : [d % half, (d % half) + half];
      out[b + d] = (Math.abs(x[b + a]!) + Math.abs(x[b + c]!)) * ropeMscaleRef(p);
    }
  }
  return out;
}

interface Case {
  mode: RopeModeRef;
  n_head: number;
  head_dim: number;
  n_rot: number;
  n_tokens: number;
  pos_start: number;
  kv_base: number;
  freq_base: number;
  freq_scale: number;
  attn_factor: number;
  /** rope_freqs factors (Llama 3.x) for the n_rot/2 pairs. */
  factors?: Float32Array;
  yarn?: RopeRefParams['yarn'];
}

/** Llama 3.1-style frequency factors: 1 for high frequencies, 8 for low ones, a smooth ramp between. */
function llama3Factors(n_rot: number): Float32Array {
  return Float32Array.from({ length: n_rot / 2 }, (_, i) => (i < n_rot / 8 ? 1 : i > (3 * n_rot) / 8 ? 8 : 1 + (7 * (i - n_rot / 8)) / (n_rot / 4)));
}

const cases: Case[] = [];
for (const mode of ['norm', 'neox'] as const) {
  cases.push(
    { mode, n_head: 4, head_dim: 64, n_rot: 64, n_tokens: 1, pos_start: 0, kv_base: 0, freq_base: 10000, freq_scale: 1, attn_factor: 1 },
    { mode, n_head: 2, head_dim: 128, n_rot: 128, n_tokens: 3, pos_start: 5, kv_base: 32, freq_base: 1e6, freq_scale: 1, attn_factor: 1 },
    { mode, n_head: 3, head_dim: 64, n_rot: 32, n_tokens: 5, pos_start: 11, kv_base: 0, freq_base: 10000, freq_scale: 0.5, attn_factor: 1 }, // partial rotary
    { mode, n_head: 4, head_dim: 128, n_rot: 128, n_tokens: 17, pos_start: 100, kv_base: 256, freq_base: 500000, freq_scale: 1, attn_factor: 1.25 },
    { mode, n_head: 2, head_dim: 64, n_rot: 64, n_tokens: 70, pos_start: 1, kv_base: 128, freq_base: 10000, freq_scale: 1, attn_factor: 1 },
    { mode, n_head: 2, head_dim: 64, n_rot: 64, n_tokens: 9, pos_start: 40, kv_base: 0, freq_base: 500000, freq_scale: 1, attn_factor: 1, factors: llama3Factors(64) },
    { mode, n_head: 2, head_dim: 64, n_rot: 64, n_tokens: 9, pos_start: 300, kv_base: 0, freq_base: 1e6, freq_scale: 0.25, attn_factor: 1, yarn: { ext_factor: 1, beta_fast: 32, beta_slow: 1, n_ctx_orig: 256 } },
    { mode, n_head: 2, head_dim: 128, n_rot: 128, n_tokens: 4, pos_start: 7, kv_base: 16, freq_base: 10000, freq_scale: 0.5, attn_factor: 0.9, factors: llama3Factors(128), yarn: { ext_factor: 0.5, beta_fast: 8, beta_slow: 2, n_ctx_orig: 4096 } },
  );
}

function params(c: Case): RopeRefParams {
  return { n_head: c.n_head, head_dim: c.head_dim, n_rot: c.n_rot, mode: c.mode, freq_base: c.freq_base, freq_scale: c.freq_scale, attn_factor: c.attn_factor, factors: c.factors, yarn: c.yarn };
}

/** The host table the backends build for case c (model/rope-table.ts). */
function table(c: Case, nCtx: number): Float32Array {
  const y = c.yarn ?? { ext_factor: 0, beta_fast: 32, beta_slow: 1, n_ctx_orig: nCtx };
  return ropeTable(nCtx, c.n_rot, { freq_base: c.freq_base, freq_scale: c.freq_scale, attn_factor: c.attn_factor, ...y }, c.factors);
}

async function ropeInPlace(h: GpuKernelHarness, c: Case, x: Float32Array, cs: Float32Array): Promise<Float32Array> {
  const out = await h.run({
    kernel: 'rope',
    entry: 'main_inplace',
    step: { n_tokens: c.n_tokens, pos_start: c.pos_start, kv_base: c.kv_base },
    params: [c.n_head, c.head_dim, c.n_rot, c.mode === 'neox' ? 1 : 0],
    bindings: { 2: cs, 3: x },
    dispatch: grid(c.n_tokens * c.n_head * (c.n_rot / 2)),
    read: [3],
  });
  return new Float32Array(out[3]!);
}

async function ropeToCache(h: GpuKernelHarness, c: Case, src: Float32Array, cache: Float32Array, cs: Float32Array): Promise<Float32Array> {
  const out = await h.run({
    kernel: 'rope',
    entry: 'main_to_cache',
    step: { n_tokens: c.n_tokens, pos_start: c.pos_start, kv_base: c.kv_base },
    params: [c.n_head, c.head_dim, c.n_rot, c.mode === 'neox' ? 1 : 0],
    bindings: { 2: cs, 4: src, 5: cache },
    dispatch: grid(c.n_tokens * c.n_head * c.head_dim),
    read: [5],
  });
  return new Float32Array(out[5]!);
}

kernelTest('rope main_inplace: NORM and NEOX, head dims 64/128, partial n_rot, n_tokens 1..70, pos_start > 0, rope_freqs, YaRN', async (h) => {
  const rnd = seeded(21);
  for (const c of cases) {
    const p = params(c);
    const cs = table(c, c.pos_start + c.n_tokens + 3);
    const x = randn(c.n_tokens * c.n_head * c.head_dim, rnd);
    // The step covers n_tokens; one more token's rows in the buffer must stay as they were.
    const padded = new Float32Array(x.length + c.n_head * c.head_dim).fill(9);
    padded.set(x);
    const y = await ropeInPlace(h, c, padded, cs);
    const ref = ropeRef(x, c.n_tokens, c.pos_start, p);
    assertClose(y.subarray(0, x.length), ref, { rtol: RTOL, scale: pairMagnitude(x, c.n_tokens * c.n_head, p), what: JSON.stringify(c) });
    assert.ok(y.subarray(x.length).every((v) => v === 9), `${JSON.stringify(c)}: rows past n_tokens changed`);
  }
});

kernelTest('rope main_to_cache: rotated K rows land at kv_base + pos_start + t, other cache rows untouched', async (h) => {
  const rnd = seeded(22);
  for (const c of cases) {
    const p = params(c);
    const cs = table(c, c.pos_start + c.n_tokens + 3);
    const src = randn(c.n_tokens * c.n_head * c.head_dim, rnd);
    const cacheRows = c.kv_base + c.pos_start + c.n_tokens + 2;
    const cache = randn(cacheRows * c.n_head * c.head_dim, rnd);
    const y = await ropeToCache(h, c, src, cache, cs);
    const ref = ropeToCacheRef(src, cache, c.n_tokens, c.pos_start, c.kv_base, p);
    const scale = new Float64Array(cache.length);
    scale.set(pairMagnitude(src, c.n_tokens * c.n_head, p), (c.kv_base + c.pos_start) * c.n_head * c.head_dim);
    assertClose(y, ref, { rtol: RTOL, scale, what: JSON.stringify(c) });
  }
});

// More than 65535 workgroups of 64: the graph builder folds the grid into y (grid() in graph-builder.ts),
// as for a prefill chunk of 4096 tokens with 32 heads of 128 (8.4M rotations).
kernelTest('rope main_inplace and main_to_cache: grids over 65535 workgroups (2-D fold)', async (h) => {
  const rnd = seeded(23);
  const base = { mode: 'neox' as const, head_dim: 128, n_rot: 128, pos_start: 3, kv_base: 0, freq_base: 10000, freq_scale: 1, attn_factor: 1 };
  {
    const c: Case = { ...base, n_head: 60, n_tokens: 1100 }; // 1100 * 60 * 64 = 4.22M rotations > 65535 * 64
    assert.ok(grid(c.n_tokens * c.n_head * (c.n_rot / 2))[1] > 1);
    const cs = table(c, c.pos_start + c.n_tokens);
    const x = randn(c.n_tokens * c.n_head * c.head_dim, rnd);
    const y = await ropeInPlace(h, c, x, cs);
    assertClose(y, ropeRef(x, c.n_tokens, c.pos_start, params(c)), { rtol: RTOL, scale: pairMagnitude(x, c.n_tokens * c.n_head, params(c)), what: 'main_inplace, folded grid' });
  }
  {
    const c: Case = { ...base, n_head: 60, n_tokens: 550 }; // 550 * 60 * 128 = 4.22M elements > 65535 * 64
    assert.ok(grid(c.n_tokens * c.n_head * c.head_dim)[1] > 1);
    const cs = table(c, c.pos_start + c.n_tokens);
    const src = randn(c.n_tokens * c.n_head * c.head_dim, rnd);
    const cache = new Float32Array((c.pos_start + c.n_tokens) * c.n_head * c.head_dim);
    const y = await ropeToCache(h, c, src, cache, cs);
    const scale = new Float64Array(cache.length);
    scale.set(pairMagnitude(src, c.n_tokens * c.n_head, params(c)), c.pos_start * c.n_head * c.head_dim);
    assertClose(y, ropeToCacheRef(src, cache, c.n_tokens, c.pos_start, c.kv_base, params(c)), { rtol: RTOL, scale, what: 'main_to_cache, folded grid' });
  }
});

// ---- f16 cache (main_to_cache_f16): the rotated K rows stored as halves, two per u32 ----

async function ropeToCacheF16(h: GpuKernelHarness, c: Case, src: Float32Array, cache: Uint16Array, cs: Float32Array): Promise<Uint16Array> {
  const out = await h.run({
    kernel: 'rope',
    entry: 'main_to_cache_f16',
    step: { n_tokens: c.n_tokens, pos_start: c.pos_start, kv_base: c.kv_base },
    params: [c.n_head, c.head_dim, c.n_rot, c.mode === 'neox' ? 1 : 0],
    bindings: { 2: cs, 4: src, 6: cache },
    dispatch: grid((c.n_tokens * c.n_head * c.head_dim) / 2),
    read: [6],
  });
  return new Uint16Array(out[6]!);
}

// Tolerance: the kernel rotates in f32 and the reference in float64, then both round to f16: the values
// agree to 1e-6 of the pair's magnitude plus one f16 rounding step (2^-10 relative) where the f32 result
// sat next to a rounding boundary; rows outside the step are bit-identical.
kernelTest('rope main_to_cache_f16: rotated K rows land at kv_base + pos_start + t as f16, other cache rows untouched', async (h) => {
  const rnd = seeded(24);
  for (const c of cases) {
    const p = params(c);
    const cs = table(c, c.pos_start + c.n_tokens + 3);
    const src = randn(c.n_tokens * c.n_head * c.head_dim, rnd);
    const cacheRows = c.kv_base + c.pos_start + c.n_tokens + 2;
    const cache = Uint16Array.from(randn(cacheRows * c.n_head * c.head_dim, rnd), (x) => f32ToF16Bits(x));
    const bits = await ropeToCacheF16(h, c, src, cache, cs);
    const y = Array.from(bits, f16BitsToF32);
    const ref = ropeToCacheRef(src, Array.from(cache, f16BitsToF32), c.n_tokens, c.pos_start, c.kv_base, p, true);
    const first = (c.kv_base + c.pos_start) * c.n_head * c.head_dim;
    const last = first + src.length;
    const mag = pairMagnitude(src, c.n_tokens * c.n_head, p);
    const scale = new Float64Array(cache.length);
    for (let i = first; i < last; i++) scale[i] = mag[i - first]! + Math.abs(ref[i]!) * 2 ** -10 / RTOL;
    assertClose(y, ref, { rtol: RTOL, scale, what: JSON.stringify(c) });
    for (let i = 0; i < cache.length; i++) if (i < first || i >= last) assert.equal(bits[i], cache[i], `${JSON.stringify(c)}: cache row outside the step changed at [${i}]`);
  }
});
