/**
 * Shared building blocks of the MoE transformer forward pass, written once and composed by the
 * per-architecture files. Each block reads an input activation and writes its output activation.
 */
import type { Act, ForwardOps, RopeParams, SharedExpert, VectorHandle, WeightHandle } from './forward-ops.js';
import { routingParams } from './routing.js';
import type { ModelConfig } from './hparams.js';
import type { LayerWeights, ModelWeights } from './model-weights.js';

/** The activations every architecture uses. */
export interface Acts {
  /** residual stream [n_tokens, n_embd] */
  x: Act;
  /** normed input of a block [n_tokens, n_embd] */
  xn: Act;
  /** block output [n_tokens, n_embd] */
  out: Act;
  /** second block output (sandwich norms) [n_tokens, n_embd] */
  out2: Act;
}

export function declareActs(ops: ForwardOps, cfg: ModelConfig): Acts {
  return {
    x: ops.act('inp_embd', cfg.n_embd),
    xn: ops.act('norm', cfg.n_embd),
    out: ops.act('block_out', cfg.n_embd),
    out2: ops.act('block_out_normed', cfg.n_embd),
  };
}

export function embedTokens(ops: ForwardOps, cfg: ModelConfig, w: ModelWeights, x: Act): void {
  ops.embed(w.tok_embd, x, cfg.f_embedding_scale);
}

/** y = W x (+ b when the model has that bias). */
function project(ops: ForwardOps, w: WeightHandle, b: VectorHandle | undefined, x: Act, y: Act): void {
  ops.matmul(w, x, y);
  if (b) ops.addBias(y, b);
}

/**
 * Self-attention: q/k/v projections (+ biases), optional q/k RMS norms (per head or over the whole
 * vector), RoPE, KV cache store, causal GQA attention, output projection (+ bias).
 */
export function selfAttention(ops: ForwardOps, cfg: ModelConfig, lw: LayerWeights, il: number, xn: Act, out: Act): void {
  const hdk = cfg.n_embd_head_k;
  const hdv = cfg.n_embd_head_v;
  const q = ops.act('Qcur', cfg.n_head * hdk); // [n_tokens, n_head * head_dim_k]
  const k = ops.act('Kcur', cfg.n_head_kv * hdk); // [n_tokens, n_head_kv * head_dim_k]
  const v = ops.act('Vcur', cfg.n_head_kv * hdv); // [n_tokens, n_head_kv * head_dim_v]
  const attn = ops.act('kqv_out', cfg.n_head * hdv); // [n_tokens, n_head * head_dim_v]
  project(ops, lw.wq, lw.bq, xn, q);
  project(ops, lw.wk, lw.bk, xn, k);
  project(ops, lw.wv, lw.bv, xn, v);
  if (cfg.qk_norm === 'per-head') {
    ops.rmsNormRows(q, hdk, lw.attn_q_norm ?? null, cfg.f_norm_rms_eps);
    ops.rmsNormRows(k, hdk, lw.attn_k_norm ?? null, cfg.f_norm_rms_eps);
  } else if (cfg.qk_norm === 'full') {
    ops.rmsNormRows(q, q.cols, lw.attn_q_norm ?? null, cfg.f_norm_rms_eps);
    ops.rmsNormRows(k, k.cols, lw.attn_k_norm ?? null, cfg.f_norm_rms_eps);
  }
  const ropeQ: RopeParams = { n_head: cfg.n_head, head_dim: hdk, n_rot: cfg.n_rot, mode: cfg.rope_type, freq_factors: lw.rope_freqs ?? null };
  ops.ropeInPlace(q, ropeQ);
  ops.storeKv(il, k, v, { ...ropeQ, n_head: cfg.n_head_kv }, hdv);
  ops.attention(il, q, attn, {
    n_head: cfg.n_head,
    n_head_kv: cfg.n_head_kv,
    head_dim_k: hdk,
    head_dim_v: hdv,
    scale: attentionScale(cfg),
    softcap: cfg.f_attn_logit_softcapping,
  });
  project(ops, lw.wo, lw.bo, attn, out);
}

/** The factor on q·k: grok folds its attention output multiplier in before soft-capping. */
export function attentionScale(cfg: ModelConfig): number {
  if (cfg.arch === 'grok') return cfg.f_attn_out_scale;
  return cfg.f_attention_scale || 1 / Math.sqrt(cfg.n_embd_head_k);
}

/** Dense gated FFN: down(act(gate(x) + b_gate) * (up(x) + b_up)) + b_down (biases when the model has them). */
export function denseFfn(ops: ForwardOps, cfg: ModelConfig, lw: LayerWeights, xn: Act, out: Act): void {
  if (!lw.ffn_gate || !lw.ffn_up || !lw.ffn_down) throw new Error('dense FFN weights are missing');
  const gate = ops.act('ffn_gate', lw.ffn_up.rows);
  const up = ops.act('ffn_up', lw.ffn_up.rows);
  project(ops, lw.ffn_gate, lw.ffn_gate_b, xn, gate);
  project(ops, lw.ffn_up, lw.ffn_up_b, xn, up);
  ops.glu(gate, up, cfg.ffn_act);
  project(ops, lw.ffn_down, lw.ffn_down_b, gate, out);
}

/**
 * The MoE FFN: router logits, the routing step (routing.ts: gating, top-k, weights — the same for every
 * architecture, parametrised by its config), the expert executor, then the shared expert if any.
 * Dense layers take the dense FFN.
 */
export function feedForward(ops: ForwardOps, cfg: ModelConfig, lw: LayerWeights, xn: Act, out: Act): void {
  if (!lw.router || !lw.experts) {
    denseFfn(ops, cfg, lw, xn, out);
    return;
  }
  const logits = ops.act('ffn_moe_logits', cfg.n_expert); // [n_tokens, n_expert]
  ops.matmul(lw.router, xn, logits);
  const routing = ops.route(logits, routingParams(cfg));
  ops.experts(xn, routing, lw.experts, cfg.ffn_act, out);
  if (lw.shared) sharedExpert(ops, cfg, lw.shared, xn, out);
}

/** A shared expert, always applied: out += FFN(x), times sigmoid(gate_inp · x) when gated (qwen2moe). */
function sharedExpert(ops: ForwardOps, cfg: ModelConfig, sh: SharedExpert, xn: Act, out: Act): void {
  const gate = ops.act('ffn_shexp_gate', sh.up.rows); // [n_tokens, n_ff_shexp]
  const up = ops.act('ffn_shexp_up', sh.up.rows);
  const res = ops.act('ffn_shexp_out', cfg.n_embd); // [n_tokens, n_embd]
  ops.matmul(sh.gate, xn, gate);
  ops.matmul(sh.up, xn, up);
  ops.glu(gate, up, cfg.ffn_act);
  ops.matmul(sh.down, gate, res);
  if (sh.gateInp) {
    const g = ops.act('ffn_shexp_gate_inp', 1); // [n_tokens, 1]
    ops.matmul(sh.gateInp, xn, g);
    ops.addGated(out, res, g);
  } else ops.add(out, res);
}

export function outputHead(ops: ForwardOps, cfg: ModelConfig, w: ModelWeights, x: Act, xn: Act): void {
  ops.rmsNorm(x, w.output_norm, xn, cfg.f_norm_rms_eps);
  ops.logits(xn, w.output, cfg.f_logit_mul);
}

/**
 * The pre-norm decoder shared by llama (Mixtral), qwen2, qwen2moe, qwen3moe, olmoe and granitemoe:
 * x += s * attn(norm(x)); x += s * ffn(norm(x)), with s = residual scale (granite) or 1.
 */
export function preNormDecoder(ops: ForwardOps, cfg: ModelConfig, w: ModelWeights): void {
  const a = declareActs(ops, cfg);
  embedTokens(ops, cfg, w, a.x);
  w.layers.forEach((lw, il) => {
    ops.rmsNorm(a.x, lw.attn_norm, a.xn, cfg.f_norm_rms_eps);
    selfAttention(ops, cfg, lw, il, a.xn, a.out);
    ops.add(a.x, a.out, cfg.f_residual_scale);
    ops.rmsNorm(a.x, lw.ffn_norm, a.xn, cfg.f_norm_rms_eps);
    feedForward(ops, cfg, lw, a.xn, a.out);
    ops.add(a.x, a.out, cfg.f_residual_scale);
  });
  outputHead(ops, cfg, w, a.x, a.xn);
}
