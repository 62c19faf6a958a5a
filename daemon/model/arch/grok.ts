/**
 * grok (Grok-1): sandwich norms — RMS norm after attention and after the MoE, each before its residual
 * add; attention logits scaled by the attention output multiplier and soft-capped 30·tanh(x/30);
 * GELU experts; embedding and logit scales. An optional parallel dense FFN is averaged with the MoE
 * output (sum · √2/2).
 */
import type { ForwardOps } from '../forward-ops.js';
import type { ModelConfig } from '../hparams.js';
import type { ModelWeights } from '../model-weights.js';
import { declareActs, denseFfn, embedTokens, feedForward, outputHead, selfAttention } from '../blocks.js';

export function buildGrok(ops: ForwardOps, cfg: ModelConfig, w: ModelWeights): void {
  const a = declareActs(ops, cfg);
  const eps = cfg.f_norm_rms_eps;
  embedTokens(ops, cfg, w, a.x);
  w.layers.forEach((lw, il) => {
    ops.rmsNorm(a.x, lw.attn_norm, a.xn, eps);
    selfAttention(ops, cfg, lw, il, a.xn, a.out);
    ops.rmsNorm(a.out, lw.attn_out_norm ?? null, a.out2, eps);
    ops.add(a.x, a.out2);
    ops.rmsNorm(a.x, lw.ffn_norm, a.xn, eps);
    feedForward(ops, cfg, lw, a.xn, a.out);
    if (lw.router && lw.ffn_up) {
      const dense = ops.act('ffn_out_dense', cfg.n_embd);
      denseFfn(ops, cfg, lw, a.xn, dense);
      ops.add(a.out, dense);
      ops.scale(a.out, Math.SQRT1_2);
    }
    ops.rmsNorm(a.out, lw.ffn_post_norm ?? null, a.out2, eps);
    ops.add(a.x, a.out2);
  });
  outputHead(ops, cfg, w, a.x, a.xn);
}
