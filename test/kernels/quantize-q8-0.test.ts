/**
 * shaders/quantize_q8_0.wgsl vs daemon/gpu/cpu-reference/quantize-q8-0.ts, i.e. ggml's
 * quantize_row_q8_0_ref (gguf/quantize.ts quantizeRow), bit for bit: int8 quants and f16-rounded scales.
 *
 * One known, deliberate difference: the kernel rounds x · id with WGSL round(), halves to even, as
 * ggml-cpu's AVX2 / NEON quantize_row_q8_0 does (what llama.cpp runs); the scalar _ref rounds halves away
 * from zero (roundf). Exact halves are rare (about 1 in 10^6 normal values); the random tests allow a
 * difference only where x · id is exactly k + 1/2, and a dedicated test pins the halves-to-even rule.
 */
import assert from 'node:assert/strict';
import { quantizeQ8_0Ref, type Q8Rows } from '../../daemon/gpu/cpu-reference/quantize-q8-0.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { gaussian, seeded } from './kernel-test-utils.js';

const f = Math.fround;

interface Run {
  cols: number;
  /** Rows of x in the buffer. */
  totalRows: number;
  mode: 0 | 1;
  n_tokens: number;
  rows_per_token: number;
  logits_start: number;
  n_logits: number;
}

const SENT_Q = 0x5a5a5a5a;
const SENT_D = -777;

async function quantize(h: GpuKernelHarness, r: Run, x: Float32Array): Promise<Q8Rows> {
  const nb = r.cols / 32;
  const rows = r.mode === 0 ? r.n_tokens * r.rows_per_token : r.n_logits;
  const out = await h.run({
    kernel: 'quantize_q8_0',
    step: { n_tokens: r.n_tokens, logits_start: r.logits_start, n_logits: r.n_logits },
    params: [r.cols, r.rows_per_token, r.mode],
    bindings: { 2: x, 3: new Uint32Array((r.totalRows * r.cols) / 4).fill(SENT_Q), 4: new Float32Array(r.totalRows * nb).fill(SENT_D) },
    dispatch: grid(rows * nb + 64), // a few more invocations than blocks: the kernel's own bound must hold
    read: [3, 4],
  });
  return { qs: new Int8Array(out[3]!), d: new Float32Array(out[4]!) };
}

/** Blocks of very different magnitudes, an all-zero block, and huge/tiny amax. */
function activations(rows: number, cols: number, rnd: () => number): Float32Array {
  const x = new Float32Array(rows * cols);
  for (let b = 0; b < x.length / 32; b++) {
    const kind = b % 11;
    const scale = kind === 0 ? 0 : kind === 1 ? 1e-30 : kind === 2 ? 1e6 : kind === 3 ? 1e-3 : Math.exp(4 * (rnd() - 0.5));
    for (let j = 0; j < 32; j++) x[b * 32 + j] = gaussian(rnd) * scale;
  }
  return x;
}

/** The rows [first, first + n) of the GPU output must equal `ref`, except at exact halves; others keep the sentinel. */
function check(got: Q8Rows, ref: Q8Rows, x: Float32Array, r: Run, first: number, n: number, what: string): number {
  const nb = r.cols / 32;
  let ties = 0;
  for (let i = 0; i < r.totalRows * r.cols; i++) {
    const row = Math.floor(i / r.cols);
    if (row < first || row >= first + n) {
      assert.equal(got.qs[i], SENT_Q & 0xff, `${what}: quant ${i} outside the rows written`);
      continue;
    }
    const k = (row - first) * r.cols + (i % r.cols);
    if (got.qs[i] === ref.qs[k]) continue;
    // Allowed only at an exact half, rounded to even.
    const d = f(quantDScale(x, row, r.cols, Math.floor((i % r.cols) / 32)));
    const v = f(x[i]! * (d !== 0 ? f(1 / d) : 0));
    const isHalf = Math.abs(v - Math.trunc(v)) === 0.5;
    assert.ok(isHalf && got.qs[i]! % 2 === 0 && Math.abs(got.qs[i]! - v) === 0.5, `${what}: quant [${row}, ${i % r.cols}] = ${got.qs[i]}, expected ${ref.qs[k]} (x ${x[i]}, x·id ${v})`);
    ties++;
  }
  for (let i = 0; i < r.totalRows * nb; i++) {
    const row = Math.floor(i / nb);
    if (row < first || row >= first + n) {
      assert.equal(got.d[i], SENT_D, `${what}: scale ${i} outside the rows written`);
      continue;
    }
    const want = ref.d[(row - first) * nb + (i % nb)]!;
    assert.ok(Object.is(got.d[i], want), `${what}: scale [${row}, ${i % nb}] = ${got.d[i]}, expected ${want}`);
  }
  return ties;
}

/** ggml's f32 d = amax / 127 of one block. */
function quantDScale(x: Float32Array, row: number, cols: number, b: number): number {
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[row * cols + b * 32 + j]!));
  return amax / 127;
}

kernelTest('quantize_q8_0 mode 0 (token rows × rows_per_token): bit-exact with the x86 quantize_row_q8_0 of ggml-cpu, cols 32..4096, n_tokens 1..70', async (h) => {
  const rnd = seeded(81);
  let ties = 0;
  let values = 0;
  for (const [cols, n_tokens, rows_per_token] of [
    [32, 1, 1],
    [64, 3, 1],
    [4096, 5, 1],
    [1408, 17, 1],
    [128, 70, 1],
    [768, 5, 4], // expert slots: n_expert_used rows per token
    [96, 67, 2],
  ] as const) {
    const r: Run = { cols, totalRows: n_tokens * rows_per_token + 2, mode: 0, n_tokens, rows_per_token, logits_start: 1, n_logits: 1 };
    const x = activations(r.totalRows, cols, rnd);
    const got = await quantize(h, r, x);
    const n = n_tokens * rows_per_token;
    ties += check(got, quantizeQ8_0Ref(x, cols, n, 0, 'x86'), x, r, 0, n, JSON.stringify({ cols, n_tokens, rows_per_token }));
    values += n * cols;
  }
  assert.ok(ties <= 3, `${ties} exact halves in ${values} values`);
});

kernelTest('quantize_q8_0 mode 1 (logits rows from logits_start): bit-exact with the x86 quantize_row_q8_0 of ggml-cpu', async (h) => {
  const rnd = seeded(82);
  for (const [cols, logits_start, n_logits] of [
    [64, 0, 1],
    [256, 4, 1],
    [2048, 16, 3],
    [96, 1, 70],
  ] as const) {
    const r: Run = { cols, totalRows: logits_start + n_logits + 1, mode: 1, n_tokens: logits_start + n_logits + 1, rows_per_token: 1, logits_start, n_logits };
    const x = activations(r.totalRows, cols, rnd);
    const got = await quantize(h, r, x);
    check(got, quantizeQ8_0Ref(x, cols, n_logits, logits_start, 'x86'), x, r, logits_start, n_logits, JSON.stringify({ cols, logits_start, n_logits }));
  }
});

kernelTest('quantize_q8_0: exact halves round to even (ggml-cpu AVX2/NEON), where quantize_row_q8_0_ref rounds away from zero', async (h) => {
  // amax 127 gives d = 1 and id = 1, so x · id = x exactly.
  const halves = [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 125.5, -126.5, 3.5, 64.5, -0.5, 6.5];
  const x = new Float32Array(32);
  x[0] = 127;
  halves.forEach((v, i) => (x[1 + i] = v));
  for (let i = 1 + halves.length; i < 32; i++) x[i] = i - 16; // integers: no rounding
  const r: Run = { cols: 32, totalRows: 1, mode: 0, n_tokens: 1, rows_per_token: 1, logits_start: 0, n_logits: 0 };
  const got = await quantize(h, r, x);
  const even = Array.from(x, (v) => {
    const t = Math.round(v);
    return (t - v === 0.5 && t % 2 !== 0 ? t - 1 : t) + 0; // + 0: no -0 in an int8
  });
  assert.deepEqual(Array.from(got.qs), even);
  assert.equal(got.d[0], 1);
  const ref = quantizeQ8_0Ref(x, 32, 1, 0, 'ref');
  assert.notDeepEqual(Array.from(ref.qs), even, 'quantize_row_q8_0_ref rounds halves away from zero');
  assert.deepEqual(Array.from(quantizeQ8_0Ref(x, 32, 1, 0, 'x86').qs, (v) => v + 0), even, "ggml-cpu's x86 quantize_row_q8_0 rounds halves to even");
});
