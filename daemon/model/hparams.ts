/**
 * Model hyperparameters read from GGUF metadata exactly as llama.cpp v0.4.0 reads them
 * (src/llama-model.cpp llama_model_base::load_hparams, src/models/{llama,grok,qwen2moe,qwen3moe,olmoe,
 * granite-moe,granite}.cpp load_arch_hparams / load_arch_tensors / graph), plus validation of every
 * tensor the forward pass needs (presence, shape, type).
 *
 * Differences from llama.cpp, on purpose:
 *  - integer keys may use any integer GGUF type and f32 keys FLOAT64 (llama.cpp demands UINT32/FLOAT32);
 *  - per-layer arrays (head_count, head_count_kv, feed_forward_length, expert_feed_forward_length,
 *    expert_used_count) must hold the same value for every layer (UNSUPPORTED_FEATURE otherwise);
 *    the graphs of these archs use layer 0's value for every layer anyway;
 *  - optional tensors must be present in all layers or in none (UNSUPPORTED_FEATURE otherwise);
 *  - not supported (UNSUPPORTED_FEATURE): rope.scaling.type 'longrope', expert groups
 *    (expert_group_count > 1), fused blk.N.attn_qkv, qwen2's output.bias;
 *  - old Mixtral files with one 2-D tensor per expert (blk.N.ffn_{gate,up,down}.E.weight, which llama.cpp
 *    v0.4.0 refuses) are read for llama and grok, as llama.cpp once did (expert_layout 'per-expert');
 *  - extra tensors in the file are ignored (llama.cpp refuses files with unused tensors).
 *
 * Every check reports into a ConfigChecks list instead of throwing at the first problem (checkModelConfig
 * returns them all, as ModelProblems; readModelConfig throws them together as one ModelCheckError, whose
 * code is the first problem's GgufError code). After a problem the reading goes on with a neutral value,
 * and shape checks that depend on a broken hyperparameter are skipped rather than reported once per tensor.
 */
import { basename } from 'node:path';
import { GgmlType, GgufValueType, ggmlTypeName } from '../gguf/ggml-types.js';
import { formatOf, SUPPORTED_WEIGHT_TYPES } from '../formats/table.js';
import { GgufError, isGgufError } from '../gguf/gguf-error.js';
import { untrustedText } from '../gguf/untrusted-text.js';
import { metaF32, metaHas, metaStr, metaU32, metaU32PerLayer } from '../gguf/gguf-metadata.js';
import type { GgufFile, GgufTensorInfo } from '../gguf/gguf-reader.js';
import { TENSOR, blk, blkExpert } from '../gguf/tensor-names.js';
import type { BlockTensor } from '../gguf/tensor-names.js';
import { readRopeHparams, type RopeScaling, type RopeScalingType } from './rope-scaling.js';
import { mergeLayerRepeats, ModelCheckError, type ModelProblem } from './model-problems.js';

export { TENSOR, blk, blkExpert, tensorNames, BLOCK_TENSORS } from '../gguf/tensor-names.js';
export type { BlockTensor } from '../gguf/tensor-names.js';

export type ArchName = 'grok' | 'llama' | 'qwen2' | 'qwen2moe' | 'qwen3moe' | 'olmoe' | 'granitemoe';
export const SUPPORTED_ARCHS: readonly ArchName[] = ['grok', 'llama', 'qwen2', 'qwen2moe', 'qwen3moe', 'olmoe', 'granitemoe'];

/** Resolved names of the tensors of one layer; optional ones are undefined when absent (or unused by llama.cpp). */
export interface LayerTensors {
  attn_norm: string; // [n_embd]
  attn_q: string; // [n_embd, n_head*n_embd_head_k]
  attn_k: string; // [n_embd, n_head_kv*n_embd_head_k]
  attn_v: string; // [n_embd, n_head_kv*n_embd_head_v]
  attn_output: string; // [n_head*n_embd_head_k, n_embd]
  attn_q_bias?: string; // [n_head*n_embd_head_k]   (not olmoe: llama.cpp ignores it there)
  attn_k_bias?: string; // [n_head_kv*n_embd_head_k]
  attn_v_bias?: string; // [n_head_kv*n_embd_head_v]
  attn_output_bias?: string; // [n_embd]   (llama, granitemoe only)
  attn_q_norm?: string; // qwen3moe [n_embd_head_k], olmoe [n_embd]
  attn_k_norm?: string; // qwen3moe [n_embd_head_k], olmoe [n_embd]
  attn_output_norm?: string; // grok [n_embd]
  ffn_norm: string; // [n_embd]
  ffn_post_norm?: string; // grok [n_embd]: blk.N.layer_output_norm, else blk.N.post_ffw_norm
  // MoE (n_expert > 0)
  ffn_gate_inp?: string; // router [n_embd, n_expert]
  ffn_gate_exps?: string; // [n_embd, n_ff_exp, n_expert]; optional for llama/grok/granitemoe
  ffn_up_exps?: string; // [n_embd, n_ff_exp, n_expert]
  ffn_down_exps?: string; // [n_ff_exp, n_embd, n_expert]
  // the same, one 2-D tensor per expert (expert_layout 'per-expert': blk.N.ffn_up.E.weight, …)
  ffn_gate_exp?: string[]; // n_expert × [n_embd, n_ff_exp]
  ffn_up_exp?: string[]; // n_expert × [n_embd, n_ff_exp]
  ffn_down_exp?: string[]; // n_expert × [n_ff_exp, n_embd]
  // shared expert
  ffn_gate_inp_shexp?: string; // qwen2moe [n_embd]
  ffn_gate_shexp?: string; // [n_embd, n_ff_shexp]
  ffn_up_shexp?: string; // [n_embd, n_ff_shexp]
  ffn_down_shexp?: string; // [n_ff_shexp, n_embd]
  // dense FFN (n_expert == 0 for llama/granitemoe; grok's optional parallel dense FFN)
  ffn_gate?: string; // [n_embd, n_ff]
  ffn_up?: string; // [n_embd, n_ff]
  ffn_down?: string; // [n_ff, n_embd]
  ffn_gate_bias?: string; // [n_ff]   (llama/granitemoe dense only)
  ffn_up_bias?: string; // [n_ff]
  ffn_down_bias?: string; // [n_embd]
}

export interface ModelTensors {
  token_embd: string; // [n_embd, n_vocab]
  output_norm: string; // [n_embd]
  /** [n_embd, n_vocab]; 'token_embd.weight' when tied_output. */
  output: string;
  /** rope_freqs.weight [n_rot/2] (llama, granitemoe), undefined when absent. */
  rope_freqs?: string;
  layers: LayerTensors[];
}

/**
 * Hyperparameters of a supported model, and the forward pass llama.cpp v0.4.0 builds from them.
 *
 * Notation: x is the residual stream [n_embd] of one token; RMSNorm(v, w) = v / sqrt(mean(v²) + eps) * w
 * with eps = f_norm_rms_eps for EVERY norm (block norms, q/k norms, output norm); W·v is a matmul with a
 * GGUF weight [in, out]; "kq" is the raw dot product q·k of one head (no scaling yet).
 *
 * Common skeleton (every arch):
 *   x = token_embd[token] (dequantized row);  x *= f_embedding_scale   (only grok and granitemoe read it;
 *       llama.cpp multiplies right after the embedding lookup, before layer 0)
 *   for each layer il:
 *     h = RMSNorm(x, attn_norm)
 *     q = W_q·h (+ q bias), k = W_k·h (+ k bias), v = W_v·h (+ v bias); split into heads of n_embd_head_k
 *     [qk_norm] → RoPE(q), RoPE(k) (rope_type, n_rot, rope_freq_base, rope_freq_scale, rope_freqs factors)
 *     scores = softmax(kq · kq_scale + causal_mask) with kq_scale = f_attention_scale || 1/sqrt(n_embd_head_k),
 *       GQA: query head h uses kv head floor(h / (n_head/n_head_kv))
 *     a = W_o · concat_heads(scores·v) (+ attn_output bias)
 *     x = x + a                                   (arch-specific variants below)
 *     h = RMSNorm(x, ffn_norm);  f = FFN(h);  x = x + f
 *   logits = (output or token_embd) · RMSNorm(x, output_norm) · f_logit_mul
 *
 * MoE FFN (build_moe_ffn), n_expert > 0:
 *   r = W_gate_inp·h [n_expert];  p = softmax(r) over ALL experts;  sel = top n_expert_used of p (descending);
 *   w_k = p[sel_k];  if expert_weights_norm: w_k /= max(Σ_k w_k, 6.103515625e-5)   (no other weight scale:
 *   none of these archs read expert_weights_scale);
 *   f = Σ_k w_k · W_down[e_k]·( act(W_gate[e_k]·h) * (W_up[e_k]·h) )      (expert_gate = true)
 *   f = Σ_k w_k · W_down[e_k]·( act(W_up[e_k]·h) )                         (expert_gate = false: no gate_exps)
 *   act = SiLU x·sigmoid(x), or GELU (ffn_act 'gelu': tanh approximation
 *   0.5x(1+tanh(0.7978845608·(x+0.044715x³))); ggml's CPU backend evaluates it through an f16 table:
 *   x ≤ -10 → 0, x ≥ 10 → x, else f16(gelu(f16(x)))).
 * Dense FFN (n_expert == 0; llama, granitemoe): f = W_down·(SiLU(W_gate·h + b_gate) * (W_up·h + b_up)) + b_down.
 *
 * llama (Mixtral when n_expert > 0): common skeleton; NORM RoPE; kq_scale 1/sqrt(n_embd_head_k) (llama
 *   does not read attention.scale); optional attn_output bias; MoE with SiLU, expert_weights_norm = true,
 *   ffn_gate_exps optional; expert width n_ff_exp = feed_forward_length; dense FFN when n_expert == 0;
 *   optional rope_freqs; output optional (tied).
 * qwen2 (dense; Qwen2.5 / Qwen2.5-Coder): NEOX RoPE; q [n_embd, n_embd] and attn_output [n_embd, n_embd]
 *   (n_head·n_embd_head_k = n_embd); q/k/v biases (optional, present in Qwen2 files); dense SiLU FFN of
 *   width feed_forward_length without biases; output optional (tied); output.bias refused.
 * qwen2moe: NEOX RoPE; q/k/v biases (optional); MoE with SiLU, expert_weights_norm = false, width
 *   n_ff_exp = expert_feed_forward_length || feed_forward_length / n_expert_used; plus a shared expert
 *   ('sigmoid-gated'): s = W_down_shexp·(SiLU(W_gate_shexp·h) * (W_up_shexp·h)) [n_ff_shexp =
 *   expert_shared_feed_forward_length || feed_forward_length]; g = (W_gate_inp_shexp·h) (a scalar, from a
 *   [n_embd] weight); f = moe + s · sigmoid(g) (llama.cpp computes sigmoid(g) as silu(g)/g); output required.
 * qwen3moe: qk_norm 'per-head': after the projections, q and k are RMS-normalised per head over
 *   n_embd_head_k with attn_q_norm/attn_k_norm [n_embd_head_k], BEFORE RoPE; NEOX RoPE; head dim may
 *   differ from n_embd/n_head (q: [n_embd, n_head*n_embd_head_k]); MoE with SiLU, expert_weights_norm =
 *   true, width expert_feed_forward_length || feed_forward_length / n_expert_used; no shared expert;
 *   output optional (tied).
 * olmoe: qk_norm 'full': q [n_embd] and k [n_embd] are RMS-normalised over the WHOLE vector (all heads
 *   together) with attn_q_norm/attn_k_norm [n_embd], before splitting into heads and RoPE (requires
 *   n_head_kv == n_head); no q/k/v biases (ignored if present); NEOX RoPE; MoE with SiLU,
 *   expert_weights_norm = false, width feed_forward_length; output required.
 * granitemoe: llama's graph with: x = embd · f_embedding_scale (embedding_scale, 1 if absent); kq_scale =
 *   attention.scale if present else 1/sqrt(n_embd_head_k); a = (W_o·attn + b_o) · f_residual_scale, then
 *   x = x + a; f = (moe [+ shared]) · f_residual_scale, then x = x + f (residual_scale, 1 if absent);
 *   MoE with SiLU, expert_weights_norm = true, width feed_forward_length, gate_exps optional; shared expert
 *   'unweighted' only when expert_shared_feed_forward_length > 0: f = moe + W_down_shexp·(SiLU(W_gate_shexp·h)
 *   * (W_up_shexp·h)); NORM RoPE; logits multiplied by f_logit_mul = 1/logit_scale (logit_scale required);
 *   dense FFN when n_expert == 0; output optional (tied).
 * grok: x = embd · f_embedding_scale (embedding_scale, default 78.38367176906169); attention:
 *   kq' = f_attn_logit_softcapping · tanh(kq · (f_attn_out_scale / f_attn_logit_softcapping)), i.e. the
 *   attention.output_scale (default 0.08838834764831845) multiplies the raw q·k INSIDE the softcap
 *   (llama-graph.cpp build_attn_mha, LLM_ARCH_GROK branch), then softmax(kq' · 1.0 + mask): kq_scale is 1
 *   (f_attention_scale = 1); softcap default 30; a = W_o·attn (no bias); sandwich norms:
 *   x = x + RMSNorm(a, attn_output_norm)  (attn_post_norm);  h = RMSNorm(x, ffn_norm);
 *   m = MoE(h) with GELU (geglu: gelu(gate)·up), expert_weights_norm = true, width
 *   expert_feed_forward_length || feed_forward_length; if the layer has a dense ffn_up/gate/down
 *   (moe_dense_parallel): m = (m + W_down·(GELU(W_gate·h) * (W_up·h))) · 0.70710678 (float sqrt(2)/2);
 *   x = x + RMSNorm(m, ffn_post_norm)  (ffn_post_norm: layer_output_norm or post_ffw_norm);
 *   logits = output · RMSNorm(x) · f_logit_mul (logit_scale, default 0.5773502691896257), then if
 *   f_final_logit_softcapping != 0: logits = c·tanh(logits/c). NEOX RoPE. grok.router_logit_softcapping is
 *   read by llama.cpp but not applied. llama.cpp forces flash attention off for grok.
 *
 * RoPE (ggml_rope_ext): for pair i in [0, n_rot/2): theta = pos · rope_freq_scale ·
 *   rope_freq_base^(-2i/n_rot) / freq_factor[i] (rope_freqs, 1 when absent); cos/sin multiplied by
 *   rope.attn_factor; with YaRN (rope.scaling.type 'yarn') theta and the factor as rope-scaling.ts
 *   describes. 'norm' rotates (x[2i], x[2i+1]); 'neox' rotates (x[i], x[i + n_rot/2]).
 *   n_rot == n_embd_head_k == n_embd_head_v is required by all these graphs.
 */
export interface ModelConfig {
  arch: ArchName;
  /** general.name or the file's basename. */
  name: string;
  n_ctx_train: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  /** attention.key_length / value_length; default floor(n_embd / n_head). Equal (required by llama.cpp's graphs). */
  n_embd_head_k: number;
  n_embd_head_v: number;
  /** rope.dimension_count, default n_embd_head_k; must equal it. */
  n_rot: number;
  rope_type: 'norm' | 'neox';
  rope_freq_base: number;
  /** 1 / rope.scaling.factor (or rope.scale_linear), 1 when absent or 0 or scaling type 'none'. */
  rope_freq_scale: number;
  /** rope.scaling.type: 'none' | 'linear' (default) | 'yarn'. */
  rope_scaling_type: RopeScalingType;
  /** rope.scaling.attn_factor as stored (default 1); what ggml_rope_ext gets is rope.attn_factor. */
  rope_attn_factor: number;
  /** The resolved arguments of ggml_rope_ext (rope-scaling.ts): what both backends' RoPE tables use. */
  rope: RopeScaling;
  /** rope_freqs.weight present: theta_i is divided by freq_factor[i] (llama, granitemoe). */
  rope_freq_factors: boolean;
  f_norm_rms_eps: number;
  n_vocab: number;
  n_expert: number;
  n_expert_used: number;
  /** Width of one routed expert (see the per-arch rules above); 0 for dense models. */
  n_ff_exp: number;
  /** feed_forward_length: dense FFN width (0 when absent). */
  n_ff: number;
  /** Shared expert width (qwen2moe: key || n_ff; granitemoe: key or 0; others 0). */
  n_ff_shexp: number;
  /** Renormalise the top-k weights (hard-coded per arch in llama.cpp's graph, not read from the file). */
  expert_weights_norm: boolean;
  shared_expert: 'none' | 'sigmoid-gated' | 'unweighted';
  ffn_act: 'silu' | 'gelu';
  /** ffn_gate_exps present: act(gate)·up; absent (allowed for llama/grok/granitemoe): act(up). */
  expert_gate: boolean;
  /** 'merged': 3-D blk.N.ffn_*_exps tensors; 'per-expert': old Mixtral files, one 2-D tensor per expert. */
  expert_layout: 'merged' | 'per-expert';
  /** grok only: layers also hold a dense FFN added to the MoE output and scaled by sqrt(2)/2. */
  moe_dense_parallel: boolean;
  qk_norm: 'none' | 'per-head' | 'full';
  attn_post_norm: boolean;
  ffn_post_norm: boolean;
  /** Multiplies token embeddings right after lookup (grok, granitemoe; 1 otherwise). */
  f_embedding_scale: number;
  /** Final logits are multiplied by this (grok: logit_scale, granitemoe: 1/logit_scale, others 1). */
  f_logit_mul: number;
  /** grok final_logit_softcapping (0 = off): logits = c·tanh(logits/c) after f_logit_mul. */
  f_final_logit_softcapping: number;
  /** granitemoe: scales attention and FFN outputs before each residual add (1 when absent). */
  f_residual_scale: number;
  /** kq scale; 0 → 1/sqrt(n_embd_head_k). grok: 1 (its scale is f_attn_out_scale). */
  f_attention_scale: number;
  /** grok attention.output_scale: multiplies raw q·k inside the softcap tanh (see above). 1 for other archs (unused). */
  f_attn_out_scale: number;
  /** grok attn_logit_softcapping (default 30); 0 = off (all other archs). */
  f_attn_logit_softcapping: number;
  /** output.weight absent → token_embd.weight is used as the output matrix. */
  tied_output: boolean;
  /** Optional biases present in every layer (all false when absent). */
  attn_bias: { q: boolean; k: boolean; v: boolean; o: boolean };
  ffn_bias: { gate: boolean; up: boolean; down: boolean };
  bos_token_id?: number;
  eos_token_id?: number;
  /** Names of every tensor the forward pass uses, validated (presence, shape, type). */
  tensors: ModelTensors;
}

const MAX_LAYERS = 512; // LLAMA_MAX_LAYERS
const MAX_EXPERTS = 1024; // LLAMA_MAX_EXPERTS

const VECTOR_TYPES: readonly GgmlType[] = [GgmlType.F32];

function unsupported(msg: string): GgufError {
  return new GgufError('UNSUPPORTED_FEATURE', msg);
}

function fmtDims(d: readonly number[]): string {
  return `[${d.join(', ')}]`;
}

/** Same dims as llama.cpp's check_tensor_dims: missing trailing dims must be 1. */
function sameDims(found: readonly number[], expected: readonly number[]): boolean {
  for (let i = 0; i < 4; i++) {
    if ((found[i] ?? 1) !== (expected[i] ?? 1)) return false;
  }
  return true;
}

/** The problems found so far while reading one file's config (see the header comment). */
class ConfigChecks {
  readonly problems: ModelProblem[] = [];

  fail(kind: 'architecture' | 'hparams' | 'rope' | 'feature', e: GgufError): void {
    this.problems.push({ kind, code: e.code, message: e.message });
  }

  tensor(e: GgufError, tensor: string): void {
    this.problems.push({ kind: 'tensor', code: e.code, message: e.message, tensors: [tensor] });
  }

  tensorType(e: GgufError, tensor: string, type: GgmlType, role: 'matrix' | 'vector'): void {
    this.problems.push({ kind: 'tensor-type', code: e.code, message: e.message, type: ggmlTypeName(type), tensors: [tensor], backends: ['wgsl', 'cpu'], role });
  }

  /** Runs a metadata read; a GgufError (missing key, wrong type) becomes a problem and `fallback` is used. */
  read<T>(kind: 'hparams' | 'rope', fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (e) {
      if (!isGgufError(e)) throw e;
      this.fail(kind, e);
      return fallback;
    }
  }
}

class TensorChecker {
  /** False once a hyperparameter the expected shapes derive from is broken: shapes are then not compared. */
  shapesKnown = true;

  constructor(
    private readonly file: GgufFile,
    private readonly weightTypes: readonly GgmlType[],
    private readonly checks: ConfigChecks,
  ) {}

  has(name: string): boolean {
    return this.file.tensorByName.has(name);
  }

  /** Validates a required tensor: presence, dims, type. `kind` 'vector' = norms/biases (F32 only). */
  need(name: string, dims: number[], kind: 'matrix' | 'vector'): string {
    const t = this.file.tensorByName.get(name);
    if (!t) this.checks.tensor(new GgufError('MISSING_TENSOR', `required tensor '${name}' ${this.shapesKnown ? `${fmtDims(dims)} ` : ''}is missing`), name);
    else this.check(t, dims, kind);
    return name;
  }

  opt(name: string, dims: number[], kind: 'matrix' | 'vector'): string | undefined {
    return this.has(name) ? this.need(name, dims, kind) : undefined;
  }

  private check(t: GgufTensorInfo, dims: number[], kind: 'matrix' | 'vector'): void {
    if (this.shapesKnown && !sameDims(t.dims, dims)) {
      this.checks.tensor(new GgufError('BAD_SHAPE', `tensor '${t.name}' has shape ${fmtDims(t.dims)}, expected ${fmtDims(dims)} from the hyperparameters`), t.name);
    }
    const allowed = kind === 'vector' ? VECTOR_TYPES : this.weightTypes;
    if (t.byteSize < 0 || !allowed.includes(t.type)) {
      const unknown = t.byteSize < 0 ? ' (unknown to ggml)' : kind === 'matrix' && formatOf(t.type) ? ' (a known format without kernels yet)' : '';
      const e = new GgufError('UNSUPPORTED_TYPE', `tensor '${t.name}' has type ${ggmlTypeName(t.type)}${unknown}; supported for ${kind === 'vector' ? 'norms/biases' : 'matrices'}: ${allowed.map(ggmlTypeName).join(', ')}`);
      this.checks.tensorType(e, t.name, t.type, kind);
    }
  }
}

/** The same value for every layer, else UNSUPPORTED_FEATURE (and layer 0's value). */
function uniform(checks: ConfigChecks, key: string, values: number[]): number {
  const v0 = values[0] ?? 0;
  const i = values.findIndex((v) => v !== v0);
  if (i >= 0) checks.fail('hparams', unsupported(`per-layer values of '${key}' differ (layer 0: ${v0}, layer ${i}: ${values[i]}); only uniform layers are supported`));
  return v0;
}

function uniformPresence(checks: ConfigChecks, what: string, present: boolean[]): boolean {
  const p0 = present[0] ?? false;
  const i = present.findIndex((p) => p !== p0);
  if (i >= 0) checks.fail('hparams', unsupported(`tensor ${what} is ${p0 ? 'present' : 'absent'} in layer 0 but ${p0 ? 'absent' : 'present'} in layer ${i}; only uniform layers are supported`));
  return p0;
}

export interface ReadConfigOptions {
  /** Matrix types to accept (default: SUPPORTED_WEIGHT_TYPES, those the engine's backends have kernels for). */
  weightTypes?: readonly GgmlType[];
}

/**
 * Reads and validates the hyperparameters and tensors of a supported architecture; throws every problem
 * found at once (a ModelCheckError, a GgufError with the first problem's code).
 */
export function readModelConfig(file: GgufFile, opts: ReadConfigOptions = {}): ModelConfig {
  const { config, problems } = checkModelConfig(file, opts);
  if (problems.length > 0 || !config) throw new ModelCheckError(problems);
  return config;
}

/** The config of a supported architecture and every problem found reading it (config absent when the architecture is not supported). */
export interface ConfigCheck {
  config?: ModelConfig;
  problems: ModelProblem[];
}

/** Every check of readModelConfig, collecting problems instead of throwing (see the header comment). */
export function checkModelConfig(file: GgufFile, opts: ReadConfigOptions = {}): ConfigCheck {
  const checks = new ConfigChecks();
  const archStr = checks.read('hparams', () => metaStr(file, 'general.architecture'), '');
  if (!(SUPPORTED_ARCHS as readonly string[]).includes(archStr)) {
    if (archStr !== '' || checks.problems.length === 0) {
      checks.fail('architecture', new GgufError('UNSUPPORTED_ARCH', `architecture '${untrustedText(archStr)}' is not supported (supported: ${SUPPORTED_ARCHS.join(', ')})`));
    }
    return { problems: checks.problems };
  }
  const arch = archStr as ArchName;
  const k = (s: string) => `${arch}.${s}`;
  const tc = new TensorChecker(file, opts.weightTypes ?? SUPPORTED_WEIGHT_TYPES, checks);
  const u32 = (key: string, fallback: number, def?: number) => checks.read('hparams', () => metaU32(file, key, def), fallback);
  const f32 = (key: string, fallback: number, def?: number) => checks.read('hparams', () => metaF32(file, key, def), fallback);
  // with a broken block_count, a per-layer array is read at its own length (its uniformity is still checked)
  const arrayLength = (key: string) => (file.metadataTypes.get(key) === GgufValueType.ARRAY ? Math.max(1, (file.metadata.get(key) as ArrayLike<unknown>).length) : 1);
  const perLayer = (key: string, n: number, def: number) => uniform(checks, key, checks.read('hparams', () => metaU32PerLayer(file, key, n > 0 ? n : arrayLength(key), def), [def]));

  // ---- generic hparams (llama_model_base::load_hparams) ----
  const n_ctx_train = u32(k('context_length'), 0);
  const n_embd = u32(k('embedding_length'), 0);
  let n_layer = u32(k('block_count'), 0);
  if (n_layer < 1 || n_layer > MAX_LAYERS) {
    if (metaHas(file, k('block_count'))) checks.fail('hparams', new GgufError('BAD_VALUE_TYPE', `'${k('block_count')}' = ${n_layer} must be in 1..${MAX_LAYERS}`));
    n_layer = 0; // no layer is checked
  }
  if (n_embd < 1) {
    if (metaHas(file, k('embedding_length'))) checks.fail('hparams', new GgufError('BAD_VALUE_TYPE', `'${k('embedding_length')}' must be positive`));
    tc.shapesKnown = false;
  }
  const n_expert = u32(k('expert_count'), 0, 0);
  const n_expert_used = perLayer(k('expert_used_count'), n_layer, 0);
  const n_expert_groups = u32(k('expert_group_count'), 0, 0);
  if (n_expert > MAX_EXPERTS) checks.fail('hparams', new GgufError('BAD_VALUE_TYPE', `'${k('expert_count')}' = ${n_expert} exceeds ${MAX_EXPERTS}`));
  if (n_expert_used > n_expert) checks.fail('hparams', new GgufError('BAD_VALUE_TYPE', `'${k('expert_used_count')}' = ${n_expert_used} exceeds '${k('expert_count')}' = ${n_expert}`));
  if (n_expert > 0 && n_expert_used === 0) checks.fail('hparams', new GgufError('MISSING_KEY', `'${k('expert_used_count')}' must be > 0 when '${k('expert_count')}' = ${n_expert}`));
  if (n_expert_groups > 1) checks.fail('hparams', unsupported(`expert groups ('${k('expert_group_count')}' = ${n_expert_groups}) are not supported`));
  if (n_expert > MAX_EXPERTS || n_expert_used > n_expert) tc.shapesKnown = false;

  const n_ff = perLayer(k('feed_forward_length'), n_layer, 0);
  let n_head = perLayer(k('attention.head_count'), n_layer, 0);
  if (n_head === 0) {
    checks.fail('hparams', new GgufError('MISSING_KEY', `required metadata key '${k('attention.head_count')}' is missing or 0`));
    n_head = 1;
    tc.shapesKnown = false;
  }
  let n_head_kv = perLayer(k('attention.head_count_kv'), n_layer, n_head);
  if (n_head_kv === 0 || n_head % n_head_kv !== 0) {
    checks.fail('hparams', new GgufError('BAD_SHAPE', `'${k('attention.head_count')}' = ${n_head} must be a positive multiple of '${k('attention.head_count_kv')}' = ${n_head_kv}`));
    n_head_kv = n_head;
    tc.shapesKnown = false;
  }

  // rope (rope-scaling.ts)
  const ropeHp = checks.read('rope', () => readRopeHparams(file, arch, n_ctx_train), {
    type: 'none' as RopeScalingType,
    attn_factor_key: 1,
    scaling: { freq_base: 10000, freq_scale: 1, attn_factor: 1, ext_factor: 0, beta_fast: 32, beta_slow: 1, n_ctx_orig: n_ctx_train },
  });

  const headDefault = Math.floor(n_embd / n_head);
  const n_embd_head_k = u32(k('attention.key_length'), headDefault, headDefault);
  const n_embd_head_v = u32(k('attention.value_length'), headDefault, headDefault);
  const n_rot = checks.read('rope', () => metaU32(file, k('rope.dimension_count'), n_embd_head_k), n_embd_head_k);
  if (n_embd_head_k === 0 || n_embd_head_k !== n_embd_head_v || n_rot !== n_embd_head_k) {
    checks.fail('hparams', new GgufError('BAD_SHAPE', `${arch}: head sizes must agree: key_length ${n_embd_head_k}, value_length ${n_embd_head_v}, rope.dimension_count ${n_rot} (llama.cpp asserts n_embd_head_k == n_embd_head_v == n_rot)`));
    tc.shapesKnown = false;
  }
  const f_norm_rms_eps = f32(k('attention.layer_norm_rms_epsilon'), 1e-5);

  // ---- per-arch hparams (load_arch_hparams) ----
  let rope_type: 'norm' | 'neox' = 'neox';
  let expert_weights_norm = false;
  let shared_expert: ModelConfig['shared_expert'] = 'none';
  let ffn_act: ModelConfig['ffn_act'] = 'silu';
  let qk_norm: ModelConfig['qk_norm'] = 'none';
  let post_norms = false;
  let f_embedding_scale = 1;
  let f_logit_mul = 1;
  let f_final_logit_softcapping = 0;
  let f_residual_scale = 1;
  let f_attention_scale = 0;
  let f_attn_out_scale = 1;
  let f_attn_logit_softcapping = 0;
  let n_ff_exp = 0;
  let n_ff_shexp = 0;
  let outputRequired = false;
  let qFullWidth = false; // q/output projection is [n_embd, n_embd] (not n_head*n_embd_head_k)
  let denseAllowed = false;
  const expFf = () => perLayer(k('expert_feed_forward_length'), n_layer, 0);

  switch (arch) {
    case 'llama':
      rope_type = 'norm';
      expert_weights_norm = true;
      n_ff_exp = n_expert > 0 ? n_ff : 0;
      denseAllowed = true;
      break;
    case 'granitemoe': {
      rope_type = 'norm';
      expert_weights_norm = true;
      n_ff_exp = n_expert > 0 ? n_ff : 0;
      denseAllowed = true;
      const logit_scale = f32(k('logit_scale'), 1);
      if (logit_scale === 0) checks.fail('hparams', new GgufError('BAD_VALUE_TYPE', `'${k('logit_scale')}' must not be 0 (logits are divided by it)`));
      f_logit_mul = Math.fround(1 / (logit_scale || 1));
      const rs = f32(k('residual_scale'), 0, 0);
      f_residual_scale = rs === 0 ? 1 : rs; // llama.cpp: `if (hparams.f_residual_scale)`
      const es = f32(k('embedding_scale'), 0, 0);
      f_embedding_scale = es === 0 ? 1 : es; // llama.cpp: `if (f_embedding_scale != 0.0f)`
      f_attention_scale = f32(k('attention.scale'), 0, 0);
      n_ff_shexp = u32(k('expert_shared_feed_forward_length'), 0, 0);
      shared_expert = n_ff_shexp > 0 && n_expert > 0 ? 'unweighted' : 'none';
      if (n_expert === 0) n_ff_shexp = 0;
      break;
    }
    case 'qwen2':
      qFullWidth = true;
      denseAllowed = true;
      if (n_expert > 0) checks.fail('hparams', unsupported(`qwen2 is a dense architecture: '${k('expert_count')}' = ${n_expert} is not supported (qwen2moe has experts)`));
      break;
    case 'qwen2moe':
      n_ff_exp = expFf() || (n_expert_used > 0 ? Math.floor(n_ff / n_expert_used) : 0);
      n_ff_shexp = u32(k('expert_shared_feed_forward_length'), 0, 0) || n_ff;
      shared_expert = 'sigmoid-gated';
      outputRequired = true;
      qFullWidth = true;
      break;
    case 'qwen3moe':
      n_ff_exp = expFf() || (n_expert_used > 0 ? Math.floor(n_ff / n_expert_used) : 0);
      expert_weights_norm = true;
      qk_norm = 'per-head';
      break;
    case 'olmoe':
      n_ff_exp = n_ff;
      qk_norm = 'full';
      outputRequired = true;
      qFullWidth = true;
      break;
    case 'grok': {
      ffn_act = 'gelu';
      expert_weights_norm = true;
      post_norms = true;
      qFullWidth = true;
      n_ff_exp = expFf() || n_ff;
      // defaults for old GGUFs, then the optional keys (src/models/grok.cpp)
      f_logit_mul = f32(k('logit_scale'), 1, Math.fround(0.5773502691896257));
      f_embedding_scale = f32(k('embedding_scale'), 1, Math.fround(78.38367176906169));
      f_attn_out_scale = f32(k('attention.output_scale'), 1, Math.fround(0.08838834764831845));
      f_attn_logit_softcapping = f32(k('attn_logit_softcapping'), 30, 30);
      f_final_logit_softcapping = f32(k('final_logit_softcapping'), 0, 0);
      f_attention_scale = 1;
      if (f_attn_logit_softcapping === 0) checks.fail('hparams', new GgufError('BAD_VALUE_TYPE', `'${k('attn_logit_softcapping')}' must not be 0 for grok (scores are divided by it)`));
      break;
    }
  }

  if (n_expert === 0 && !denseAllowed) {
    checks.fail('hparams', unsupported(`${arch} requires '${k('expert_count')}' > 0 (llama.cpp refuses a ${arch} model without experts); dense variants exist only for llama, granitemoe and qwen2`));
    tc.shapesKnown = false;
  }
  if (n_expert > 0 && n_ff_exp === 0) {
    checks.fail('hparams', new GgufError('MISSING_KEY', `expert width is 0: set '${k(arch === 'qwen2moe' || arch === 'qwen3moe' || arch === 'grok' ? 'expert_feed_forward_length' : 'feed_forward_length')}'`));
    tc.shapesKnown = false;
  }
  if (n_expert === 0 && n_ff === 0) {
    checks.fail('hparams', new GgufError('MISSING_KEY', `dense ${arch} model needs '${k('feed_forward_length')}'`));
    tc.shapesKnown = false;
  }
  if (qFullWidth && n_head * n_embd_head_k !== n_embd) {
    checks.fail('hparams', new GgufError('BAD_SHAPE', `${arch}: n_head (${n_head}) × head size (${n_embd_head_k}) must equal n_embd (${n_embd}); llama.cpp creates attn_q as [n_embd, n_embd]`));
    tc.shapesKnown = false;
  }
  if (qk_norm === 'full' && n_head_kv !== n_head) {
    checks.fail('hparams', new GgufError('BAD_SHAPE', `${arch}: attn_k_norm spans n_embd, so head_count_kv (${n_head_kv}) must equal head_count (${n_head})`));
    tc.shapesKnown = false;
  }

  // ---- vocabulary ----
  const tokens = file.metadata.get('tokenizer.ggml.tokens');
  let n_vocab: number;
  if (Array.isArray(tokens)) n_vocab = tokens.length;
  else if (metaHas(file, k('vocab_size'))) n_vocab = u32(k('vocab_size'), 0);
  else n_vocab = file.tensorByName.get(TENSOR.token_embd)?.dims[1] ?? 0;
  if (n_vocab === 0) {
    checks.fail('hparams', new GgufError('MISSING_KEY', `cannot determine the vocabulary size: no 'tokenizer.ggml.tokens', '${k('vocab_size')}' or '${TENSOR.token_embd}'`));
    tc.shapesKnown = false;
  }

  // ---- tensors (load_arch_tensors) ----
  const E = n_embd;
  const nq = n_head * n_embd_head_k;
  const nkv = n_head_kv * n_embd_head_k;
  const qOut = qFullWidth ? E : nq;
  const X = n_expert;
  const F = n_ff_exp;
  const S = n_ff_shexp;

  const token_embd = tc.need(TENSOR.token_embd, [E, n_vocab], 'matrix');
  const output_norm = tc.need(TENSOR.output_norm, [E], 'vector');
  let output: string | undefined = outputRequired ? tc.need(TENSOR.output, [E, n_vocab], 'matrix') : tc.opt(TENSOR.output, [E, n_vocab], 'matrix');
  const tied_output = output === undefined;
  output ??= token_embd;
  const rope_freqs = arch === 'llama' || arch === 'granitemoe' ? tc.opt(TENSOR.rope_freqs, [n_rot / 2], 'vector') : undefined;
  if (arch === 'qwen2' && tc.has('output.bias')) checks.fail('hparams', unsupported(`qwen2's 'output.bias' (a bias on the logits) is not supported`));

  const present = (name: BlockTensor, suffix: 'weight' | 'bias' = 'weight') =>
    Array.from({ length: n_layer }, (_, il) => tc.has(blk(il, name, suffix)));
  if (present('attn_qkv').some((p) => p)) checks.fail('hparams', unsupported(`fused '${blk(present('attn_qkv').indexOf(true), 'attn_qkv')}' is not supported (separate attn_q/attn_k/attn_v expected)`));

  const biasesUsed = arch !== 'olmoe';
  const attn_bias = {
    q: biasesUsed && uniformPresence(checks, 'attn_q.bias', present('attn_q', 'bias')),
    k: biasesUsed && uniformPresence(checks, 'attn_k.bias', present('attn_k', 'bias')),
    v: biasesUsed && uniformPresence(checks, 'attn_v.bias', present('attn_v', 'bias')),
    o: (arch === 'llama' || arch === 'granitemoe') && uniformPresence(checks, 'attn_output.bias', present('attn_output', 'bias')),
  };
  const dense = n_expert === 0;
  const ffn_bias = {
    gate: dense && uniformPresence(checks, 'ffn_gate.bias', present('ffn_gate', 'bias')),
    up: dense && uniformPresence(checks, 'ffn_up.bias', present('ffn_up', 'bias')),
    down: dense && uniformPresence(checks, 'ffn_down.bias', present('ffn_down', 'bias')),
  };
  const gateExpsOptional = arch === 'llama' || arch === 'grok' || arch === 'granitemoe';
  // old Mixtral / grok files: one 2-D tensor per expert, blk.N.ffn_up.E.weight (never mixed with merged ones)
  const perExpert = n_expert > 0 && (arch === 'llama' || arch === 'grok') && !present('ffn_up_exps').some((p) => p) && tc.has(blkExpert(0, 'ffn_up', 0));
  const expert_layout: ModelConfig['expert_layout'] = perExpert ? 'per-expert' : 'merged';
  const expert_gate =
    n_expert > 0 &&
    (perExpert
      ? uniformPresence(checks, 'ffn_gate.0', Array.from({ length: n_layer }, (_, il) => tc.has(blkExpert(il, 'ffn_gate', 0))))
      : gateExpsOptional
        ? uniformPresence(checks, 'ffn_gate_exps', present('ffn_gate_exps'))
        : true);
  let moe_dense_parallel = false;
  if (arch === 'grok') {
    const up = uniformPresence(checks, 'ffn_up', present('ffn_up'));
    const gate = uniformPresence(checks, 'ffn_gate', present('ffn_gate'));
    const down = uniformPresence(checks, 'ffn_down', present('ffn_down'));
    if (up !== gate || up !== down) checks.fail('hparams', unsupported(`grok dense FFN must have all of ffn_up/ffn_gate/ffn_down or none (found up=${up}, gate=${gate}, down=${down})`));
    moe_dense_parallel = up;
    if (up && n_ff === 0) checks.fail('hparams', new GgufError('MISSING_KEY', `grok dense FFN tensors present but '${k('feed_forward_length')}' is missing`));
  }

  const layers: LayerTensors[] = [];
  for (let il = 0; il < n_layer; il++) {
    const L: LayerTensors = {
      attn_norm: tc.need(blk(il, 'attn_norm'), [E], 'vector'),
      attn_q: tc.need(blk(il, 'attn_q'), [E, qOut], 'matrix'),
      attn_k: tc.need(blk(il, 'attn_k'), [E, nkv], 'matrix'),
      attn_v: tc.need(blk(il, 'attn_v'), [E, nkv], 'matrix'),
      attn_output: tc.need(blk(il, 'attn_output'), [qOut, E], 'matrix'),
      ffn_norm: tc.need(blk(il, 'ffn_norm'), [E], 'vector'),
    };
    if (attn_bias.q) L.attn_q_bias = tc.need(blk(il, 'attn_q', 'bias'), [qOut], 'vector');
    if (attn_bias.k) L.attn_k_bias = tc.need(blk(il, 'attn_k', 'bias'), [nkv], 'vector');
    if (attn_bias.v) L.attn_v_bias = tc.need(blk(il, 'attn_v', 'bias'), [nkv], 'vector');
    if (attn_bias.o) L.attn_output_bias = tc.need(blk(il, 'attn_output', 'bias'), [E], 'vector');
    if (qk_norm !== 'none') {
      const d = qk_norm === 'per-head' ? n_embd_head_k : E;
      L.attn_q_norm = tc.need(blk(il, 'attn_q_norm'), [d], 'vector');
      L.attn_k_norm = tc.need(blk(il, 'attn_k_norm'), [d], 'vector');
    }
    if (arch === 'grok') {
      L.attn_output_norm = tc.need(blk(il, 'attn_output_norm'), [E], 'vector');
      // llama.cpp: layer_output_norm if present, else post_ffw_norm (required)
      const post: BlockTensor = tc.has(blk(il, 'layer_output_norm')) ? 'layer_output_norm' : 'post_ffw_norm';
      L.ffn_post_norm = tc.need(blk(il, post), [E], 'vector');
    }
    if (n_expert > 0) {
      L.ffn_gate_inp = tc.need(blk(il, 'ffn_gate_inp'), [E, X], 'matrix');
      if (perExpert) {
        const each = (name: 'ffn_gate' | 'ffn_up' | 'ffn_down', dims: number[]) => Array.from({ length: X }, (_, e) => tc.need(blkExpert(il, name, e), dims, 'matrix'));
        if (expert_gate) L.ffn_gate_exp = each('ffn_gate', [E, F]);
        L.ffn_up_exp = each('ffn_up', [E, F]);
        L.ffn_down_exp = each('ffn_down', [F, E]);
      } else {
        if (expert_gate) L.ffn_gate_exps = tc.need(blk(il, 'ffn_gate_exps'), [E, F, X], 'matrix');
        L.ffn_up_exps = tc.need(blk(il, 'ffn_up_exps'), [E, F, X], 'matrix');
        L.ffn_down_exps = tc.need(blk(il, 'ffn_down_exps'), [F, E, X], 'matrix');
      }
      if (shared_expert !== 'none') {
        if (shared_expert === 'sigmoid-gated') L.ffn_gate_inp_shexp = tc.need(blk(il, 'ffn_gate_inp_shexp'), [E], 'vector');
        L.ffn_gate_shexp = tc.need(blk(il, 'ffn_gate_shexp'), [E, S], 'matrix');
        L.ffn_up_shexp = tc.need(blk(il, 'ffn_up_shexp'), [E, S], 'matrix');
        L.ffn_down_shexp = tc.need(blk(il, 'ffn_down_shexp'), [S, E], 'matrix');
      }
    }
    if (dense || moe_dense_parallel) {
      L.ffn_gate = tc.need(blk(il, 'ffn_gate'), [E, n_ff], 'matrix');
      L.ffn_up = tc.need(blk(il, 'ffn_up'), [E, n_ff], 'matrix');
      L.ffn_down = tc.need(blk(il, 'ffn_down'), [n_ff, E], 'matrix');
    }
    if (ffn_bias.gate) L.ffn_gate_bias = tc.need(blk(il, 'ffn_gate', 'bias'), [n_ff], 'vector');
    if (ffn_bias.up) L.ffn_up_bias = tc.need(blk(il, 'ffn_up', 'bias'), [n_ff], 'vector');
    if (ffn_bias.down) L.ffn_down_bias = tc.need(blk(il, 'ffn_down', 'bias'), [E], 'vector');
    layers.push(L);
  }

  const fileName = basename(file.path).replace(/\.gguf$/i, '');
  const name = metaHas(file, 'general.name') ? checks.read('hparams', () => metaStr(file, 'general.name'), fileName) : fileName;
  const bos = metaHas(file, 'tokenizer.ggml.bos_token_id') ? u32('tokenizer.ggml.bos_token_id', 0) : undefined;
  const eos = metaHas(file, 'tokenizer.ggml.eos_token_id') ? u32('tokenizer.ggml.eos_token_id', 0) : undefined;

  const config: ModelConfig = {
    arch,
    name,
    n_ctx_train,
    n_embd,
    n_layer,
    n_head,
    n_head_kv,
    n_embd_head_k,
    n_embd_head_v,
    n_rot,
    rope_type,
    rope_freq_base: ropeHp.scaling.freq_base,
    rope_freq_scale: ropeHp.scaling.freq_scale,
    rope_scaling_type: ropeHp.type,
    rope_attn_factor: ropeHp.attn_factor_key,
    rope: ropeHp.scaling,
    rope_freq_factors: rope_freqs !== undefined,
    f_norm_rms_eps,
    n_vocab,
    n_expert,
    n_expert_used,
    n_ff_exp: F,
    n_ff,
    n_ff_shexp: S,
    expert_weights_norm: n_expert > 0 && expert_weights_norm,
    shared_expert,
    ffn_act,
    expert_gate,
    expert_layout,
    moe_dense_parallel,
    qk_norm,
    attn_post_norm: post_norms,
    ffn_post_norm: post_norms,
    f_embedding_scale,
    f_logit_mul,
    f_final_logit_softcapping,
    f_residual_scale,
    f_attention_scale,
    f_attn_out_scale,
    f_attn_logit_softcapping,
    tied_output,
    attn_bias,
    ffn_bias,
    tensors: { token_embd, output_norm, output, rope_freqs, layers },
  };
  if (bos !== undefined) config.bos_token_id = bos;
  if (eos !== undefined) config.eos_token_id = eos;
  return { config, problems: mergeLayerRepeats(checks.problems) };
}
