/**
 * CPU reference of shaders/rms_norm.wgsl: ggml_rms_norm (then ggml_mul by the norm weight when given).
 * ggml sums x² in double, takes mean = sum / n and scale = 1 / sqrt(mean + eps) in f32; here everything is
 * float64.
 */

/**
 * y[r, :] = x[r, :] / sqrt(mean(x[r, :]²) + eps) · weight[:] for `rows` rows of length n.
 * x: [rows, n]; weight: [n] or undefined; returns [rows, n].
 */
export function rmsNormRef(x: ArrayLike<number>, n: number, rows: number, eps: number, weight?: ArrayLike<number>): Float64Array {
  if (x.length < rows * n) throw new Error(`rmsNormRef: x has ${x.length} values, needs ${rows}×${n}`);
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    const o = r * n;
    let ss = 0;
    for (let i = 0; i < n; i++) ss += x[o + i]! * x[o + i]!;
    const s = 1 / Math.sqrt(ss / n + eps);
    for (let i = 0; i < n; i++) y[o + i] = x[o + i]! * s * (weight ? weight[i]! : 1);
  }
  return y;
}
