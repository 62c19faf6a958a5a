/**
 * CPU reference of shaders/add_bias.wgsl: a bias vector added to every row (ggml_add broadcasting b over
 * the rows of x): x[r, i] + b[i] for the first `rows` rows of n values, float64; later rows unchanged.
 */
export function addBiasRef(x: ArrayLike<number>, b: ArrayLike<number>, n: number, rows: number): Float64Array {
  const out = Float64Array.from(x as ArrayLike<number>);
  for (let i = 0; i < rows * n; i++) out[i] = x[i]! + b[i % n]!;
  return out;
}
