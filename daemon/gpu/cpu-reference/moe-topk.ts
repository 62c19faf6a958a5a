/**
 * CPU reference of shaders/moe_topk.wgsl: llama.cpp's MoE routing (build_moe_ffn with softmax gating):
 * probs = softmax(router logits), the n_expert_used largest (descending; equal values: lower expert index
 * first — ggml's argsort uses std::sort and leaves ties unspecified, the kernel's contract fixes them),
 * weights = probs of the chosen experts, divided by their sum when `norm` (norm_w). Float64.
 */
export interface MoeTopkRef {
  ids: Uint32Array; // [n_tokens, k]
  weights: Float64Array; // [n_tokens, k]
}

/** logits: [n_tokens, n_expert]. */
export function moeTopkRef(logits: ArrayLike<number>, n_tokens: number, n_expert: number, k: number, norm: boolean): MoeTopkRef {
  if (k > n_expert) throw new Error(`moeTopkRef: k ${k} > n_expert ${n_expert}`);
  const ids = new Uint32Array(n_tokens * k);
  const weights = new Float64Array(n_tokens * k);
  const ex = new Float64Array(n_expert);
  const order = new Uint32Array(n_expert);
  for (let t = 0; t < n_tokens; t++) {
    const row = t * n_expert;
    let mx = -Infinity;
    for (let e = 0; e < n_expert; e++) mx = Math.max(mx, logits[row + e]!);
    let sum = 0;
    for (let e = 0; e < n_expert; e++) sum += ex[e] = Math.exp(logits[row + e]! - mx);
    // stable insertion sort by logit, descending: equal logits keep the lower index first
    for (let e = 0; e < n_expert; e++) {
      let i = e;
      while (i > 0 && logits[row + order[i - 1]!]! < logits[row + e]!) {
        order[i] = order[i - 1]!;
        i--;
      }
      order[i] = e;
    }
    let wsum = 0;
    for (let j = 0; j < k; j++) {
      ids[t * k + j] = order[j]!;
      wsum += weights[t * k + j] = ex[order[j]!]! / sum;
    }
    if (norm) for (let j = 0; j < k; j++) weights[t * k + j]! /= wsum;
  }
  return { ids, weights };
}
