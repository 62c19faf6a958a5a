/**
 * The MoE routing step, written once for every architecture (llama.cpp's build_moe_ffn order):
 *   router logits → gating (softmax over all experts, or sigmoid) → top-k (descending; equal values:
 *   lower expert index first) → the chosen experts' gating values as weights → renormalised to sum 1
 *   or not → times a scale.
 * The WebGPU kernel shaders/moe_topk.wgsl implements the same contract; `routeTokens` is what the CPU
 * backend runs and the reference every backend is tested against.
 */
import type { ModelConfig } from './hparams.js';

export interface RoutingParams {
  n_expert: number;
  /** Experts chosen per token (k). */
  n_expert_used: number;
  gating: 'softmax' | 'sigmoid';
  /** Renormalise the chosen weights to sum 1 (llama.cpp: divided by max(sum, 6.103515625e-5)). */
  norm: boolean;
  /** Multiplies the final weights (1 for every supported architecture). */
  scale: number;
}

export function routingParams(cfg: ModelConfig): RoutingParams {
  return { n_expert: cfg.n_expert, n_expert_used: cfg.n_expert_used, gating: 'softmax', norm: cfg.expert_weights_norm, scale: 1 };
}

export interface Routing {
  /** [n_tokens, k] chosen expert per token, best first. */
  ids: Uint32Array;
  /** [n_tokens, k] their weights. */
  weights: Float32Array;
}

/** Routes `n_tokens` rows of router logits [n_tokens, n_expert]. f32 arithmetic with f64 sums. */
export function routeTokens(logits: ArrayLike<number>, n_tokens: number, p: RoutingParams): Routing {
  const { n_expert: E, n_expert_used: k } = p;
  if (k > E || k < 1) throw new Error(`routing: ${k} experts per token out of ${E}`);
  const ids = new Uint32Array(n_tokens * k);
  const weights = new Float32Array(n_tokens * k);
  const g = new Float64Array(E);
  const order = new Uint32Array(E);
  for (let t = 0; t < n_tokens; t++) {
    const row = t * E;
    if (p.gating === 'softmax') {
      let mx = -Infinity;
      for (let e = 0; e < E; e++) mx = Math.max(mx, logits[row + e]!);
      let sum = 0;
      for (let e = 0; e < E; e++) sum += g[e] = Math.exp(logits[row + e]! - mx);
      for (let e = 0; e < E; e++) g[e]! /= sum;
    } else {
      for (let e = 0; e < E; e++) g[e] = 1 / (1 + Math.exp(-logits[row + e]!));
    }
    // stable insertion sort by logit, descending: equal logits keep the lower index first
    for (let e = 0; e < E; e++) {
      let i = e;
      while (i > 0 && logits[row + order[i - 1]!]! < logits[row + e]!) {
        order[i] = order[i - 1]!;
        i--;
      }
      order[i] = e;
    }
    let wsum = 0;
    for (let j = 0; j < k; j++) wsum += g[order[j]!]!;
    const div = p.norm ? Math.max(wsum, 6.103515625e-5) : 1;
    for (let j = 0; j < k; j++) {
      ids[t * k + j] = order[j]!;
      weights[t * k + j] = (g[order[j]!]! / div) * p.scale;
    }
  }
  return { ids, weights };
}
