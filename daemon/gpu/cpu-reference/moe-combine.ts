/**
 * CPU reference of shaders/moe_combine.wgsl: the end of llama.cpp's build_moe_ffn — each expert output
 * times its routing weight, summed over the k chosen experts — plus the shared expert of qwen2moe
 * (times sigmoid(ffn_gate_inp_shexp · x)) or granitemoe (as is). Float64.
 *   y[t, i] = Σ_j weights[t, j] · expert_out[t · k + j, i]  (+ shared[t, i] · σ(shared_gate[t]) | + shared[t, i])
 */
export type SharedModeRef = 'none' | 'gated' | 'plain';

export function moeCombineRef(
  expertOut: ArrayLike<number>, // [n_tokens * k, n]
  weights: ArrayLike<number>, // [n_tokens, k]
  n_tokens: number,
  n: number,
  k: number,
  shared: SharedModeRef,
  sharedOut?: ArrayLike<number>, // [n_tokens, n]
  sharedGate?: ArrayLike<number>, // [n_tokens]
): Float64Array {
  const y = new Float64Array(n_tokens * n);
  for (let t = 0; t < n_tokens; t++) {
    for (let i = 0; i < n; i++) {
      let acc = 0;
      for (let j = 0; j < k; j++) acc += weights[t * k + j]! * expertOut[(t * k + j) * n + i]!;
      if (shared === 'gated') acc += sharedOut![t * n + i]! / (1 + Math.exp(-sharedGate![t]!));
      else if (shared === 'plain') acc += sharedOut![t * n + i]!;
      y[t * n + i] = acc;
    }
  }
  return y;
}
