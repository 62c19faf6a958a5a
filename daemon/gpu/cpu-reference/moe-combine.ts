/**
 * CPU reference of shaders/moe_combine.wgsl, the end of the expert executor (llama.cpp's build_moe_ffn):
 * each expert output times its routing weight, summed over the k chosen experts. Float64.
 *   y[t, i] = Σ_j weights[t, j] · expert_out[t · k + j, i]
 */
export function moeCombineRef(
  expertOut: ArrayLike<number>, // [n_tokens * k, n]
  weights: ArrayLike<number>, // [n_tokens, k]
  n_tokens: number,
  n: number,
  k: number,
): Float64Array {
  const y = new Float64Array(n_tokens * n);
  for (let t = 0; t < n_tokens; t++) {
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = 0; j < k; j++) acc += weights[t * k + j]! * expertOut[(t * k + j) * n + i]!;
      y[t * n + i] = acc;
    }
  }
  return y;
}
