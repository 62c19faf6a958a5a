/**
 * The activation converters the matmuls read, against the byte-exact codecs of llama.cpp's x86 activation
 * conversion (daemon/formats/activation*.ts), bit for bit:
 *  - shaders/quantize_q8.wgsl (Q8_0, and Q8_1 with its override) and shaders/quantize_q8_k.wgsl vs
 *    daemon/gpu/cpu-reference/quantize-q8.ts: int8 quants, the f16-rounded d (f32 d for Q8_K), Q8_0's Σ q,
 *    Q8_1's stored sum s, Q8_K's 16-value bsums;
 *  - shaders/round_activations.wgsl (f16, and bf16 with its override) vs the f16 / bf16 codecs: overflow to
 *    infinity, f16 subnormals, ties to even.
 * Rows beyond the step keep their sentinel.
 *
 * Inputs: blocks of very different magnitudes (1e-30 … 1e6), all-zero blocks, exact halves of x · id
 * (both rounding rules of ggml's x86 code round them to even), and for Q8_K blocks holding +amax and −amax
 * (the first one's sign wins). Not covered: f32-subnormal blocks, where ggml's 127/amax overflows to ∞ and
 * x86 conversions give −128 (GPUs may flush such inputs to zero instead).
 */
import assert from 'node:assert/strict';
import { activationAsSeen } from '../../daemon/formats/activation.js';
import { quantizeQ8Ref, type Q8Format, type Q8Rows } from '../../daemon/gpu/cpu-reference/quantize-q8.js';
import { GPU_ACTIVATIONS } from '../../daemon/gpu/activations.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { assertSameF32Bits, assertSameInts, gaussian, seeded } from './kernel-test-utils.js';

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
const SENT_S = 0xdeadbeef;

async function quantize(h: GpuKernelHarness, format: Q8Format, r: Run, x: Float32Array): Promise<Q8Rows> {
  const q = GPU_ACTIVATIONS[format].converter!;
  const rows = r.mode === 0 ? r.n_tokens * r.rows_per_token : r.n_logits;
  const out = await h.run({
    kernel: q.kernel,
    constants: q.constants,
    step: { n_tokens: r.n_tokens, logits_start: r.logits_start, n_logits: r.n_logits },
    params: [r.cols, r.rows_per_token, r.mode],
    bindings: { 2: x, 3: new Uint32Array((r.totalRows * r.cols) / 4).fill(SENT_Q), 4: new Uint32Array((r.totalRows * r.cols) / 16).fill(SENT_S) },
    dispatch: grid((rows * r.cols) / q.block + 64), // more invocations than blocks: the kernel's own bound must hold
    read: [3, 4],
  });
  return { qs: new Int8Array(out[3]!), sums: new Uint32Array(out[4]!) };
}

/** Blocks (of 32) of very different magnitudes, all-zero ones, and some exact halves at amax 127. */
function activations(rows: number, cols: number, rnd: () => number): Float32Array {
  const x = new Float32Array(rows * cols);
  for (let b = 0; b < x.length / 32; b++) {
    const kind = b % 13;
    const scale = kind === 0 ? 0 : kind === 1 ? 1e-30 : kind === 2 ? 1e6 : kind === 3 ? 1e-3 : Math.exp(4 * (rnd() - 0.5));
    for (let j = 0; j < 32; j++) x[b * 32 + j] = gaussian(rnd) * scale;
    if (kind === 4) {
      // amax 127: d = 1 and x · id = x, so halves stay halves (Q8_0 / Q8_1: id = 127 / amax = 1)
      x[b * 32] = 127;
      for (let j = 1; j < 32; j++) x[b * 32 + j] = Math.round(gaussian(rnd) * 40) + 0.5;
    }
  }
  return x;
}

/** Q8_K blocks of 256 where +amax and −amax both occur, and a block whose largest value is negative. */
function q8kCorners(x: Float32Array, cols: number, rnd: () => number): void {
  for (let at = 0; at + 256 <= x.length; at += 256 * 3) {
    const a = 2 + rnd();
    x[at + 17] = a;
    x[at + 200] = -a; // the first, +a, decides the sign
    if (at + 512 <= x.length) x[at + 256 + 3] = -9; // a negative maximum
  }
  void cols;
}

/** Rows [first, first + n) must equal `ref` bit for bit; others keep the sentinels. */
function check(got: Q8Rows, ref: Q8Rows, r: Run, first: number, n: number, what: string): void {
  const qWords = new Uint32Array(got.qs.buffer);
  for (let row = 0; row < r.totalRows; row++) {
    const inside = row >= first && row < first + n;
    const qs = got.qs.subarray(row * r.cols, (row + 1) * r.cols);
    const sums = got.sums.subarray((row * r.cols) / 16, ((row + 1) * r.cols) / 16);
    if (!inside) {
      assert.ok(qWords.subarray((row * r.cols) / 4, ((row + 1) * r.cols) / 4).every((v) => v === SENT_Q), `${what}: quants of row ${row} written`);
      assert.ok(sums.every((v) => v === SENT_S), `${what}: block words of row ${row} written`);
      continue;
    }
    const k = row - first;
    assertSameInts(qs, ref.qs.subarray(k * r.cols, (k + 1) * r.cols), `${what}: quants of row ${row}`);
    assertSameInts(sums, ref.sums.subarray((k * r.cols) / 16, ((k + 1) * r.cols) / 16), `${what}: block words (d, aux) of row ${row}`);
  }
}

for (const format of ['q8_0', 'q8_1', 'q8_K'] as const) {
  const bs = GPU_ACTIVATIONS[format].converter!.block;
  const C = (cols: number) => Math.max(bs, Math.ceil(cols / bs) * bs);

  kernelTest(`quantize ${format} mode 0 (token rows × rows_per_token): bit-exact with llama.cpp's x86 activation quantisation, n_tokens 1..70`, async (h) => {
    const rnd = seeded(81);
    for (const [cols, n_tokens, rows_per_token] of [
      [C(32), 1, 1],
      [C(64), 3, 1],
      [C(4096), 5, 1],
      [C(1408), 17, 1],
      [C(128), 70, 1],
      [C(768), 5, 4], // expert slots: n_expert_used rows per token
      [C(96), 67, 2],
    ] as const) {
      const r: Run = { cols, totalRows: n_tokens * rows_per_token + 2, mode: 0, n_tokens, rows_per_token, logits_start: 1, n_logits: 1 };
      const x = activations(r.totalRows, cols, rnd);
      if (format === 'q8_K') q8kCorners(x, cols, rnd);
      const got = await quantize(h, format, r, x);
      const n = n_tokens * rows_per_token;
      check(got, quantizeQ8Ref(format, x, cols, n, 0), r, 0, n, `${format} ${JSON.stringify({ cols, n_tokens, rows_per_token })}`);
    }
  });

  kernelTest(`quantize ${format} mode 1 (logits rows from logits_start): bit-exact with llama.cpp's x86 activation quantisation`, async (h) => {
    const rnd = seeded(82);
    for (const [cols, logits_start, n_logits] of [
      [C(64), 0, 1],
      [C(256), 4, 1],
      [C(2048), 16, 3],
      [C(96), 1, 70],
    ] as const) {
      const r: Run = { cols, totalRows: logits_start + n_logits + 1, mode: 1, n_tokens: logits_start + n_logits + 1, rows_per_token: 1, logits_start, n_logits };
      const x = activations(r.totalRows, cols, rnd);
      const got = await quantize(h, format, r, x);
      check(got, quantizeQ8Ref(format, x, cols, n_logits, logits_start), r, logits_start, n_logits, `${format} ${JSON.stringify({ cols, logits_start, n_logits })}`);
    }
  });
}

kernelTest('quantize q8_0: exact halves round to even (ggml-cpu x86), Σ q and d of a hand-made block', async (h) => {
  const halves = [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 125.5, -126.5, 3.5, 64.5, -0.5, 6.5];
  const x = new Float32Array(32);
  x[0] = 127; // amax 127: d = 1, id = 1
  halves.forEach((v, i) => (x[1 + i] = v));
  for (let i = 1 + halves.length; i < 32; i++) x[i] = i - 16;
  const r: Run = { cols: 32, totalRows: 1, mode: 0, n_tokens: 1, rows_per_token: 1, logits_start: 0, n_logits: 0 };
  const got = await quantize(h, 'q8_0', r, x);
  const even = Array.from(x, (v) => {
    const t = Math.round(v);
    return (t - v === 0.5 && t % 2 !== 0 ? t - 1 : t) + 0; // + 0: no -0 in an int8
  });
  assert.deepEqual(Array.from(got.qs), even);
  assert.equal(new Float32Array(got.sums.buffer)[0], 1, 'd');
  assert.equal(got.sums[1]! | 0, even.reduce((a, b) => a + b, 0), 'Σ q');
});

for (const format of ['f16', 'bf16'] as const) {
  kernelTest(`round_activations ${format}: bit-exact with ggml's rounding to ${format} (nearest even), modes 0 and 1; overflow, subnormals, ties`, async (h) => {
    const rnd = seeded(83);
    const q = GPU_ACTIVATIONS[format].converter!;
    for (const r of [
      { cols: 64, totalRows: 5, mode: 0, n_tokens: 2, rows_per_token: 2, logits_start: 0, n_logits: 0 },
      { cols: 4096, totalRows: 3, mode: 0, n_tokens: 2, rows_per_token: 1, logits_start: 0, n_logits: 0 },
      { cols: 96, totalRows: 9, mode: 1, n_tokens: 9, rows_per_token: 1, logits_start: 5, n_logits: 3 },
    ] as const) {
      const x = activations(r.totalRows, r.cols, rnd);
      // corners: f16 overflow (65504 is the largest, 65520 the first to round to infinity), f16 subnormals,
      // exact ties of both formats, negative zero
      const corners = [65504, 65519.99, 65520, -70000, 1e-5, -3e-7, 2 ** -25, 3 * 2 ** -26, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -0];
      corners.forEach((v, i) => (x[i] = v));
      const first = r.mode === 0 ? 0 : r.logits_start;
      const n = r.mode === 0 ? r.n_tokens * r.rows_per_token : r.n_logits;
      const out = await h.run({
        kernel: q.kernel,
        constants: q.constants,
        step: { n_tokens: r.n_tokens, logits_start: r.logits_start, n_logits: r.n_logits },
        params: [r.cols, r.rows_per_token, r.mode],
        bindings: { 2: x, 3: new Uint32Array(r.totalRows * r.cols).fill(SENT_Q) },
        dispatch: grid((n * r.cols) / q.block + 64),
        read: [3],
      });
      const got = new Float32Array(out[3]!);
      const want = new Float32Array(r.totalRows * r.cols);
      new Uint32Array(want.buffer).fill(SENT_Q);
      want.set(Float32Array.from(activationAsSeen(format, x.subarray(first * r.cols, (first + n) * r.cols)).values), first * r.cols);
      assertSameF32Bits(got, want, `${format} ${JSON.stringify(r)}`);
    }
  });
}
