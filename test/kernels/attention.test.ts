/**
 * shaders/attention.wgsl vs daemon/gpu/cpu-reference/attention.ts: causal grouped-query attention over
 * the KV cache, with soft-capping and a KV slot offset (kv_base).
 * Tolerance: |err| <= 3e-5 · Σ_j w_j·|v_j| (the output is a softmax-weighted mean of V rows; f32 scores
 * of <= 128 products and f32 exp each carry ~1e-6 relative error) + 1e-7. The f16 cache entry point
 * (main_f16) is checked below against the same reference with ggml's f16 roundings.
 */
import assert from 'node:assert/strict';
import { f16BitsToF32, f32ToF16Bits, roundToF16 } from '../../daemon/formats/half.js';
import { attentionRef, type AttentionRefParams } from '../../daemon/gpu/cpu-reference/attention.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { assertClose, randn, seeded } from './kernel-test-utils.js';

const RTOL = 3e-5;

interface Case extends AttentionRefParams {
  n_tokens: number;
  pos_start: number;
  kv_base: number;
  /** Std of q and k entries (sets the score range). */
  std: number;
}

async function attention(h: GpuKernelHarness, c: Case, q: Float32Array, k: Float32Array, v: Float32Array): Promise<Float32Array> {
  const outLen = c.n_tokens * c.n_head * c.head_dim_v;
  const out = await h.run({
    kernel: 'attention',
    step: { n_tokens: c.n_tokens, pos_start: c.pos_start, kv_base: c.kv_base, n_kv: c.pos_start + c.n_tokens },
    params: [c.n_head, c.n_head_kv, c.head_dim_k, c.head_dim_v, { f32: c.scale }, { f32: c.softcap }],
    bindings: { 2: q, 3: k, 4: v, 5: { bytes: outLen * 4 } },
    dispatch: grid(c.n_tokens * c.n_head, 32),
    read: [5],
  });
  return new Float32Array(out[5]!);
}

function check(c: Case, q: Float32Array, k: Float32Array, v: Float32Array, y: Float32Array): void {
  const ref = attentionRef(q, k, v, c.n_tokens, c.pos_start, c.kv_base, c);
  const mag = attentionRef(q, k, v.map(Math.abs), c.n_tokens, c.pos_start, c.kv_base, c);
  assertClose(y, ref, { rtol: RTOL, atol: 1e-7, scale: mag, what: JSON.stringify({ ...c, std: undefined }) });
}

const cases: Case[] = [];
for (const [dk, dv] of [
  [64, 64],
  [128, 128],
  [128, 64],
]) {
  const s = 1 / Math.sqrt(dk);
  cases.push(
    { n_head: 4, n_head_kv: 4, head_dim_k: dk, head_dim_v: dv, scale: s, softcap: 0, n_tokens: 1, pos_start: 0, kv_base: 0, std: 1 },
    { n_head: 8, n_head_kv: 2, head_dim_k: dk, head_dim_v: dv, scale: s, softcap: 0, n_tokens: 3, pos_start: 0, kv_base: 0, std: 1.5 },
    { n_head: 4, n_head_kv: 1, head_dim_k: dk, head_dim_v: dv, scale: s, softcap: 0, n_tokens: 5, pos_start: 7, kv_base: 64, std: 1.5 },
    { n_head: 6, n_head_kv: 2, head_dim_k: dk, head_dim_v: dv, scale: s, softcap: 0, n_tokens: 17, pos_start: 0, kv_base: 128, std: 1 },
    { n_head: 2, n_head_kv: 1, head_dim_k: dk, head_dim_v: dv, scale: s, softcap: 0, n_tokens: 70, pos_start: 3, kv_base: 0, std: 1 },
    { n_head: 4, n_head_kv: 2, head_dim_k: dk, head_dim_v: dv, scale: s, softcap: 0, n_tokens: 1, pos_start: 150, kv_base: 256, std: 1.5 }, // decode step
  );
}
// grok: scale 0.08838 (attention.output_scale), scores soft-capped at 30; large scores so the cap bites.
cases.push(
  { n_head: 8, n_head_kv: 2, head_dim_k: 128, head_dim_v: 128, scale: 0.08838834764831845, softcap: 30, n_tokens: 5, pos_start: 40, kv_base: 64, std: 5 },
  { n_head: 4, n_head_kv: 4, head_dim_k: 64, head_dim_v: 64, scale: 1, softcap: 20, n_tokens: 17, pos_start: 0, kv_base: 0, std: 1.2 },
);

kernelTest('attention: causal GQA/MQA/MHA, head dims 64/128 (dv != dk too), n_tokens 1..70, pos_start and kv_base offsets, softcap', async (h) => {
  const rnd = seeded(41);
  for (const c of cases) {
    const rows = c.kv_base + c.pos_start + c.n_tokens + 5; // cache rows past the causal window hold junk too
    const q = randn(c.n_tokens * c.n_head * c.head_dim_k, rnd, c.std);
    const k = randn(rows * c.n_head_kv * c.head_dim_k, rnd, c.std);
    const v = randn(rows * c.n_head_kv * c.head_dim_v, rnd);
    check(c, q, k, v, await attention(h, c, q, k, v));
  }
});

kernelTest('attention: soft-capping changes the result (the cap is applied, not ignored)', async (h) => {
  const rnd = seeded(42);
  const c: Case = { n_head: 2, n_head_kv: 1, head_dim_k: 64, head_dim_v: 64, scale: 1, softcap: 5, n_tokens: 3, pos_start: 4, kv_base: 0, std: 2 };
  const rows = c.pos_start + c.n_tokens;
  const q = randn(c.n_tokens * c.n_head * c.head_dim_k, rnd, c.std);
  const k = randn(rows * c.n_head_kv * c.head_dim_k, rnd, c.std);
  const v = randn(rows * c.n_head_kv * c.head_dim_v, rnd);
  const capped = await attention(h, c, q, k, v);
  check(c, q, k, v, capped);
  const uncapped = attentionRef(q, k, v, c.n_tokens, c.pos_start, c.kv_base, { ...c, softcap: 0 });
  let diff = 0;
  for (let i = 0; i < capped.length; i++) diff = Math.max(diff, Math.abs(capped[i]! - uncapped[i]!));
  assert.ok(diff > 0.05, `capped and uncapped outputs differ by only ${diff}`);
});

// n_tokens * n_head invocations past 65535 workgroups of 32: the grid folds into y.
kernelTest('attention: more than 65535 workgroups (2-D fold)', async (h) => {
  const rnd = seeded(43);
  const c: Case = { n_head: 1_048_600, n_head_kv: 2, head_dim_k: 4, head_dim_v: 4, scale: 0.5, softcap: 0, n_tokens: 2, pos_start: 0, kv_base: 1, std: 1 };
  assert.ok(grid(c.n_tokens * c.n_head, 32)[1] > 1);
  const rows = c.kv_base + c.n_tokens;
  const q = randn(c.n_tokens * c.n_head * c.head_dim_k, rnd);
  const k = randn(rows * c.n_head_kv * c.head_dim_k, rnd);
  const v = randn(rows * c.n_head_kv * c.head_dim_v, rnd);
  check(c, q, k, v, await attention(h, c, q, k, v));
});

kernelTest('attention: soft-capping of scores far beyond the cap (|score / cap| in the hundreds) stays finite', async (h) => {
  const rnd = seeded(44);
  const c: Case = { n_head: 2, n_head_kv: 1, head_dim_k: 64, head_dim_v: 64, scale: 1, softcap: 1, n_tokens: 3, pos_start: 2, kv_base: 0, std: 10 };
  const rows = c.pos_start + c.n_tokens;
  const q = randn(c.n_tokens * c.n_head * c.head_dim_k, rnd, c.std);
  const k = randn(rows * c.n_head_kv * c.head_dim_k, rnd, c.std);
  const v = randn(rows * c.n_head_kv * c.head_dim_v, rnd);
  check(c, q, k, v, await attention(h, c, q, k, v));
});

// ---- f16 cache (main_f16): ggml's roundings without flash attention ----
// Reference: attentionRef with kvF16 (q rounded to f16 before q·k, probabilities rounded to f16 before p·v,
// caches holding f16 values), in float64. Tolerance: 3e-5 · Σ_j p_j·|v_j| (f32 scores and exp, as above)
// + 2^-10 · max_j p_j·|v_j| · 2: a probability whose f32 value sits on an f16 rounding boundary may round
// to the neighbouring half (one step is at most 2^-10 of it); two such flips per output are allowed.

async function attentionF16(h: GpuKernelHarness, c: Case, q: Float32Array, k: Uint16Array, v: Uint16Array): Promise<Float32Array> {
  const outLen = c.n_tokens * c.n_head * c.head_dim_v;
  const out = await h.run({
    kernel: 'attention',
    entry: 'main_f16',
    step: { n_tokens: c.n_tokens, pos_start: c.pos_start, kv_base: c.kv_base, n_kv: c.pos_start + c.n_tokens },
    params: [c.n_head, c.n_head_kv, c.head_dim_k, c.head_dim_v, { f32: c.scale }, { f32: c.softcap }],
    bindings: { 2: q, 6: k, 7: v, 5: { bytes: outLen * 4 } },
    dispatch: grid(c.n_tokens * c.n_head, 32),
    read: [5],
  });
  return new Float32Array(out[5]!);
}

/** Per output: max_j p_j·|v_j| with ggml's f16 roundings (the tie allowance of the tolerance). */
function largestTerm(q: Float32Array, k: Float64Array, v: Float64Array, c: Case): Float64Array {
  const group = c.n_head / c.n_head_kv;
  const out = new Float64Array(c.n_tokens * c.n_head * c.head_dim_v);
  for (let t = 0; t < c.n_tokens; t++) {
    const nKv = c.pos_start + t + 1;
    for (let hh = 0; hh < c.n_head; hh++) {
      const hkv = Math.floor(hh / group);
      const s = new Float64Array(nKv);
      for (let j = 0; j < nKv; j++) {
        let d = 0;
        for (let i = 0; i < c.head_dim_k; i++) d += roundToF16(q[(t * c.n_head + hh) * c.head_dim_k + i]!) * k[((c.kv_base + j) * c.n_head_kv + hkv) * c.head_dim_k + i]!;
        d *= c.scale;
        s[j] = c.softcap > 0 ? c.softcap * Math.tanh(d / c.softcap) : d;
      }
      const mx = Math.max(...s);
      let sum = 0;
      for (let j = 0; j < nKv; j++) sum += s[j] = Math.exp(s[j]! - mx);
      for (let i = 0; i < c.head_dim_v; i++) {
        let big = 0;
        for (let j = 0; j < nKv; j++) big = Math.max(big, (s[j]! / sum) * Math.abs(v[((c.kv_base + j) * c.n_head_kv + hkv) * c.head_dim_v + i]!));
        out[(t * c.n_head + hh) * c.head_dim_v + i] = big;
      }
    }
  }
  return out;
}

function halves(n: number, rnd: () => number, std = 1): { bits: Uint16Array; values: Float64Array } {
  const bits = Uint16Array.from(randn(n, rnd, std), (x) => f32ToF16Bits(x));
  return { bits, values: Float64Array.from(bits, (b) => f16BitsToF32(b)) };
}

function checkF16(c: Case, q: Float32Array, k: { values: Float64Array }, v: { values: Float64Array }, y: Float32Array): void {
  const ref = attentionRef(q, k.values, v.values, c.n_tokens, c.pos_start, c.kv_base, c, true);
  const mag = attentionRef(q, k.values, v.values.map(Math.abs), c.n_tokens, c.pos_start, c.kv_base, c, true);
  const big = largestTerm(q, k.values, v.values, c);
  const scale = mag.map((m, i) => m + (2 * 2 ** -10 * big[i]!) / RTOL);
  assertClose(y, ref, { rtol: RTOL, atol: 1e-7, scale, what: `f16 ${JSON.stringify({ ...c, std: undefined })}` });
}

kernelTest('attention main_f16: f16 cache with ggml roundings, causal GQA/MQA/MHA, head dims 64/128, n_tokens 1..70, offsets, softcap', async (h) => {
  const rnd = seeded(45);
  for (const c of cases) {
    const rows = c.kv_base + c.pos_start + c.n_tokens + 5;
    const q = randn(c.n_tokens * c.n_head * c.head_dim_k, rnd, c.std);
    const k = halves(rows * c.n_head_kv * c.head_dim_k, rnd, c.std);
    const v = halves(rows * c.n_head_kv * c.head_dim_v, rnd);
    checkF16(c, q, k, v, await attentionF16(h, c, q, k.bits, v.bits));
  }
});

kernelTest('attention main_f16: the f16 roundings are applied (the result differs from unrounded attention over the same cache)', async (h) => {
  const rnd = seeded(46);
  const c: Case = { n_head: 4, n_head_kv: 2, head_dim_k: 64, head_dim_v: 64, scale: 0.125, softcap: 0, n_tokens: 9, pos_start: 40, kv_base: 0, std: 1.5 };
  const rows = c.pos_start + c.n_tokens;
  const q = randn(c.n_tokens * c.n_head * c.head_dim_k, rnd, c.std);
  const k = halves(rows * c.n_head_kv * c.head_dim_k, rnd, c.std);
  const v = halves(rows * c.n_head_kv * c.head_dim_v, rnd);
  const y = await attentionF16(h, c, q, k.bits, v.bits);
  checkF16(c, q, k, v, y);
  const unrounded = attentionRef(q, k.values, v.values, c.n_tokens, c.pos_start, c.kv_base, c, false);
  const rounded = attentionRef(q, k.values, v.values, c.n_tokens, c.pos_start, c.kv_base, c, true);
  // mean |Δ|: a rare tie flip moves a few outputs, a missing rounding moves all of them
  let gotVsUnrounded = 0;
  let gotVsRounded = 0;
  for (let i = 0; i < y.length; i++) {
    gotVsUnrounded += Math.abs(y[i]! - unrounded[i]!) / y.length;
    gotVsRounded += Math.abs(y[i]! - rounded[i]!) / y.length;
  }
  assert.ok(gotVsRounded * 10 < gotVsUnrounded, `the kernel is no closer to the rounded reference (mean |Δ| ${gotVsRounded}) than to the unrounded one (${gotVsUnrounded})`);
});
