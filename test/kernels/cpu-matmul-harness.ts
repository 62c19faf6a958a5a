/**
 * The one way the CPU matmul tests drive a `matmul_<fmt>` export and compare it with a float64 reference:
 * weights and ntok activation rows go into the kernels' memory, the output (with a stride that may be
 * wider than nrows) is surrounded by sentinels that must stay untouched, and each output is compared with
 * the reference dot product at a tolerance relative to Σ|terms| (f32 accumulation of exact block sums).
 */
import assert from 'node:assert/strict';
import type { CpuKernels } from './cpu-wasm.js';
import { assertClose } from './kernel-test-utils.js';

export interface MatmulCall {
  /** The export's format suffix: matmul_<name>. */
  name: string;
  /** Weight bytes, rows × cols in the format's row layout. */
  weights: Uint8Array;
  /** One activation row per token, in the format's vec_dot type (all the same length). */
  activations: Uint8Array[];
  rows: number;
  cols: number;
  /** Distance between token rows of y (default rows). */
  ystride?: number;
}

/** y[t·rows + r] = matmul_<name>(W, x_t)[r]; asserts nothing was written past nrows or past the last output. */
export function runMatmul(k: CpuKernels, c: MatmulCall): Float64Array {
  const ntok = c.activations.length;
  const ystride = c.ystride ?? c.rows;
  const actRow = c.activations[0]!.length;
  k.reset();
  const wp = k.put(c.weights);
  const xp = k.alloc(ntok * actRow);
  c.activations.forEach((a, t) => k.bytes(xp + t * actRow, actRow).set(a));
  const yLen = (ntok - 1) * ystride + c.rows;
  const yp = k.alloc((yLen + 16) * 4);
  const sentinel = -12345.5;
  k.f32(yp, yLen + 16).fill(sentinel);
  k.fn(`matmul_${c.name}`)(wp, xp, yp, c.rows, c.cols, ntok, ystride);
  const y = k.readF32(yp, yLen + 16);
  const got = new Float64Array(ntok * c.rows);
  for (let t = 0; t < ntok; t++) {
    for (let r = 0; r < c.rows; r++) got[t * c.rows + r] = y[t * ystride + r]!;
    if (t + 1 < ntok) for (let r = c.rows; r < ystride; r++) assert.equal(y[t * ystride + r], sentinel, `matmul_${c.name} wrote y[${t}·${ystride} + ${r}], past nrows`);
  }
  for (let i = yLen; i < yLen + 16; i++) assert.equal(y[i], sentinel, `matmul_${c.name} wrote past the last output`);
  return got;
}

/** A reference output: the exact sum and Σ|terms| (the tolerance's scale). */
export interface RefDot {
  sum: number;
  mag: number;
}

/** The float64 dot product of a dequantised weight row with the activation values the kernel sees. */
export function denseDot(w: ArrayLike<number>, row: number, cols: number, x: ArrayLike<number>): RefDot {
  let sum = 0;
  let mag = 0;
  for (let i = 0; i < cols; i++) {
    const p = w[row * cols + i]! * x[i]!;
    sum += p;
    mag += Math.abs(p);
  }
  return { sum, mag };
}

/**
 * Compares got[t·rows + r] with ref(t, r) at |got − sum| ≤ rtol·mag (+ atol); returns the worst
 * |got − sum| / mag over finite outputs.
 */
export function compareWithReference(got: Float64Array, rows: number, ref: (t: number, r: number) => RefDot, o: { rtol: number; atol?: number; what: string }): number {
  const want = new Float64Array(got.length);
  const mag = new Float64Array(got.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) {
    const d = ref(Math.floor(i / rows), i % rows);
    want[i] = d.sum;
    mag[i] = d.mag;
    if (d.mag > 0 && Number.isFinite(got[i])) worst = Math.max(worst, Math.abs(got[i]! - d.sum) / d.mag);
  }
  assertClose(got, want, { rtol: o.rtol, atol: o.atol ?? 1e-300, scale: mag, what: o.what });
  return worst;
}
