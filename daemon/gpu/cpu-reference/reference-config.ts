/**
 * The hyperparameters the CPU reference needs, with the forward semantics of each architecture as
 * llama.cpp v0.4.0 builds them (src/models/{grok,llama,qwen2moe,qwen3moe,olmoe,granite-moe}.cpp,
 * llm_graph_context::build_moe_ffn / build_attn_mha in src/llama-graph.cpp).
 *
 * TODO(helper-2): take the numbers from daemon/model/hparams.ts readModelConfig() once it lands; the
 * metadata reading below is a stop-gap so the reference can be checked against llama.cpp meanwhile.
 */
import { metaF32, metaHas, metaStrArray, metaU32, metaStr } from '../../gguf/gguf-metadata.js';
import type { GgufFile } from '../../gguf/gguf-reader.js';
import type { RopeMode } from './reference-ops.js';

export type RefArch = 'grok' | 'llama' | 'qwen2moe' | 'qwen3moe' | 'olmoe' | 'granitemoe';

export interface RefConfig {
  arch: RefArch;
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  n_embd_head_k: number;
  n_embd_head_v: number;
  n_rot: number;
  n_expert: number; // 0: dense FFN
  n_expert_used: number;
  n_ff_shexp: number; // 0: no shared expert
  f_norm_rms_eps: number;
  rope_freq_base: number;
  rope_type: RopeMode;
  /** 'per-head': qwen3moe attn_q_norm/attn_k_norm {head_dim}; 'full': olmoe over the whole q / k vector. */
  qk_norm: 'none' | 'per-head' | 'full';
  ffn_act: 'silu' | 'gelu';
  /** Top-k weights divided by their sum (qwen3moe, llama, granitemoe, grok). */
  expert_weights_norm: boolean;
  /** qwen2moe: shared expert output times sigmoid(ffn_gate_inp_shexp · x); granitemoe: added as is. */
  shexp_gated: boolean;
  /** Token embeddings times this (granitemoe, grok); 1 when absent. */
  f_embedding_scale: number;
  /** Logits times this (grok: logit_scale; granitemoe: 1/logit_scale); 1 otherwise. */
  f_logit_mul: number;
  /** granitemoe: attention and FFN outputs times this before each residual add; 1 otherwise. */
  f_residual_scale: number;
  /** Multiplies q·k: granitemoe attention.scale, grok attention.output_scale, else 1/sqrt(head_dim_k). */
  f_kq_scale: number;
  /** grok: score = cap·tanh(score/cap) after the scale; 0 = none. */
  f_attn_logit_softcapping: number;
  /** grok: RMS norms after attention (attn_output_norm) and after the MoE (layer_output_norm). */
  sandwich_norms: boolean;
}

const ARCHS: readonly RefArch[] = ['grok', 'llama', 'qwen2moe', 'qwen3moe', 'olmoe', 'granitemoe'];

export function refConfigFromGguf(f: GgufFile): RefConfig {
  const arch = metaStr(f, 'general.architecture') as RefArch;
  if (!ARCHS.includes(arch)) throw new Error(`reference forward: unsupported architecture '${arch}'`);
  const k = (s: string): string => `${arch}.${s}`;
  const n_embd = metaU32(f, k('embedding_length'));
  const n_head = metaU32(f, k('attention.head_count'));
  const n_embd_head_k = metaU32(f, k('attention.key_length'), n_embd / n_head);
  const n_expert = metaU32(f, k('expert_count'), 0);
  const grok = arch === 'grok';
  const granite = arch === 'granitemoe';
  return {
    arch,
    n_vocab: metaStrArray(f, 'tokenizer.ggml.tokens').length,
    n_embd,
    n_layer: metaU32(f, k('block_count')),
    n_head,
    n_head_kv: metaU32(f, k('attention.head_count_kv'), n_head),
    n_embd_head_k,
    n_embd_head_v: metaU32(f, k('attention.value_length'), n_embd / n_head),
    n_rot: metaU32(f, k('rope.dimension_count'), n_embd_head_k),
    n_expert,
    n_expert_used: metaU32(f, k('expert_used_count'), 0),
    n_ff_shexp: f.tensorByName.has('blk.0.ffn_up_shexp.weight') ? metaU32(f, k('expert_shared_feed_forward_length'), 0) : 0,
    f_norm_rms_eps: metaF32(f, k('attention.layer_norm_rms_epsilon')),
    rope_freq_base: metaF32(f, k('rope.freq_base'), 10000),
    rope_type: arch === 'llama' || granite ? 'norm' : 'neox',
    qk_norm: arch === 'qwen3moe' ? 'per-head' : arch === 'olmoe' ? 'full' : 'none',
    ffn_act: grok ? 'gelu' : 'silu',
    expert_weights_norm: arch !== 'qwen2moe' && arch !== 'olmoe',
    shexp_gated: arch === 'qwen2moe',
    f_embedding_scale: grok ? metaF32(f, k('embedding_scale'), 78.38367176906169) : granite ? metaF32(f, k('embedding_scale'), 0) || 1 : 1,
    f_logit_mul: grok ? metaF32(f, k('logit_scale'), 0.5773502691896257) : granite ? 1 / metaF32(f, k('logit_scale')) : 1,
    f_residual_scale: granite ? metaF32(f, k('residual_scale'), 0) || 1 : 1,
    f_kq_scale: grok
      ? metaF32(f, k('attention.output_scale'), 0.08838834764831845)
      : (granite && metaHas(f, k('attention.scale')) ? metaF32(f, k('attention.scale')) : 0) || 1 / Math.sqrt(n_embd_head_k),
    f_attn_logit_softcapping: grok ? metaF32(f, k('attn_logit_softcapping'), 30) : 0,
    sandwich_norms: grok,
  };
}
