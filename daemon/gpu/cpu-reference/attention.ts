/**
 * CPU reference of shaders/attention.wgsl: llama.cpp's build_attn_mha without flash attention: kq =
 * scale · q·k, optionally soft-capped (cap · tanh(kq / cap), grok), causal mask, softmax, then kqv =
 * softmax · V. Grouped-query: query head h reads KV head h / (n_head / n_head_kv). Everything in float64.
 * With an F16 KV cache (`kvF16`; the caches hold the f16 values) ggml rounds twice more: q to f16 before
 * q·k (the matmul converts its f32 operand to the cache's type), and each probability to f16 before p·v.
 */

import { roundToF16 } from '../../formats/half.js';
import type { AttentionParams } from '../../model/forward-ops.js';

/** The kernel's parameters (softcap 0: none). */
export type AttentionRefParams = AttentionParams;

/**
 * q: [n_tokens, n_head, head_dim_k]; kCache: [rows, n_head_kv, head_dim_k]; vCache: [rows, n_head_kv,
 * head_dim_v]. Token t is at position pos_start + t and attends to cache rows kv_base + 0 ..= kv_base +
 * pos_start + t. Returns [n_tokens, n_head, head_dim_v].
 */
export function attentionRef(
  q: ArrayLike<number>,
  kCache: ArrayLike<number>,
  vCache: ArrayLike<number>,
  n_tokens: number,
  pos_start: number,
  kv_base: number,
  p: AttentionRefParams,
  kvF16 = false,
): Float64Array {
  const { n_head, n_head_kv, head_dim_k: dk, head_dim_v: dv } = p;
  if (n_head % n_head_kv) throw new Error(`attentionRef: n_head ${n_head} is not a multiple of n_head_kv ${n_head_kv}`);
  const group = n_head / n_head_kv;
  const out = new Float64Array(n_tokens * n_head * dv);
  for (let t = 0; t < n_tokens; t++) {
    const nKv = pos_start + t + 1;
    for (let h = 0; h < n_head; h++) {
      const hkv = Math.floor(h / group);
      const qb = (t * n_head + h) * dk;
      const scores = new Float64Array(nKv);
      let mx = -Infinity;
      for (let j = 0; j < nKv; j++) {
        const kb = ((kv_base + j) * n_head_kv + hkv) * dk;
        let s = 0;
        for (let i = 0; i < dk; i++) s += (kvF16 ? roundToF16(q[qb + i]!) : q[qb + i]!) * kCache[kb + i]!;
        s *= p.scale;
        if (p.softcap > 0) s = p.softcap * Math.tanh(s / p.softcap);
        scores[j] = s;
        if (s > mx) mx = s;
      }
      let sum = 0;
      for (let j = 0; j < nKv; j++) sum += scores[j] = Math.exp(scores[j]! - mx);
      const ob = (t * n_head + h) * dv;
      for (let j = 0; j < nKv; j++) {
        const w = kvF16 ? roundToF16(scores[j]! / sum) : scores[j]! / sum;
        const vb = ((kv_base + j) * n_head_kv + hkv) * dv;
        for (let i = 0; i < dv; i++) out[ob + i] += w * vCache[vb + i]!;
      }
    }
  }
  return out;
}
