/**
 * Generates a small random GGUF model that llama.cpp loads, for any of the six MoE architectures.
 * Weights are Gaussian with std ≈ gain/sqrt(fan_in) so activations stay O(1) through the layers;
 * norm weights are 1 + small noise; each tensor has its own PRNG stream (seeded by spec.seed and the
 * tensor name), so the same spec with another weight type holds the same underlying weights.
 * Tensors are produced one at a time (the writer streams them), so large presets fit in memory; with
 * spec.streamedBlocks (the grok1-slice preset) Q4_0/Q8_0 matrices are random blocks streamed in chunks
 * (streamed-blocks.ts), so a slice of many GB is written in a minute or two with bounded memory.
 */
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { meta, writeGguf } from '../../daemon/gguf/gguf-writer.js';
import type { GgufMetaEntry, GgufWriteTensor } from '../../daemon/gguf/gguf-writer.js';
import { GGML_TYPE_OF, resolveSpec } from './model-spec.js';
import type { ModelSpec, ModelSpecInput, RecipeName, WeightTypeName } from './model-spec.js';
import { Rng, hashString } from './prng.js';
import { tokenizerMetadata } from './tokenizer-metadata.js';
import { RANDOM_BLOCK_TYPES, randomBlocks } from './random-blocks.js';
import { matrixType } from './tensor-types.js';
import { STREAMED_BLOCK_TYPES, streamedBlocks } from './streamed-blocks.js';

/** Std of the noise around 1 in norm weights. */
const NORM_NOISE = 0.1;

/** llama_ftype of a file whose matrices are mostly `t` (general.file_type; llama.h LLAMA_FTYPE_*). */
const FILE_TYPE: Record<WeightTypeName, number> = {
  F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q8_0: 7, Q5_0: 8, Q5_1: 9, Q2_K: 10, Q3_K: 11 /* Q3_K_S */, Q4_K: 14 /* Q4_K_S */,
  Q5_K: 16 /* Q5_K_S */, Q6_K: 18, IQ4_NL: 25, IQ4_XS: 30, BF16: 32, MXFP4: 38 /* MXFP4_MOE */,
};
const RECIPE_FILE_TYPE: Record<RecipeName, number> = { Q4_K_M: 15 };

export async function generateModel(input: ModelSpec | ModelSpecInput, outPath: string): Promise<void> {
  const spec = resolveSpec(input);
  await writeGguf(outPath, modelMetadata(spec), modelTensors(spec));
}

/**
 * The model's header exactly as generateModel writes it (metadata, tensor infos, offsets), in a sparse file
 * of the full size whose tensor data reads as zeros: for checking a layout of many GB without writing it.
 */
export async function generateModelHeader(input: ModelSpec | ModelSpecInput, outPath: string): Promise<void> {
  const spec = resolveSpec(input);
  await writeGguf(outPath, modelMetadata(spec), modelTensors(spec), { headerOnly: true });
}

/** Metadata keys, typed exactly as llama.cpp reads them (u32 / f32). */
export function modelMetadata(s: ModelSpec): GgufMetaEntry[] {
  const a = s.arch;
  const m: GgufMetaEntry[] = [
    meta.str('general.architecture', a),
    meta.str('general.name', s.name),
    meta.u32('general.file_type', s.recipe ? RECIPE_FILE_TYPE[s.recipe] : FILE_TYPE[s.weightType]),
    meta.u32(`${a}.context_length`, s.n_ctx),
    meta.u32(`${a}.embedding_length`, s.n_embd),
    meta.u32(`${a}.block_count`, s.n_layer),
    meta.u32(`${a}.feed_forward_length`, s.n_ff_exp),
    meta.u32(`${a}.attention.head_count`, s.n_head),
    meta.u32(`${a}.attention.head_count_kv`, s.n_head_kv),
    meta.u32(`${a}.attention.key_length`, s.head_dim),
    meta.u32(`${a}.attention.value_length`, s.head_dim),
    meta.f32(`${a}.attention.layer_norm_rms_epsilon`, s.rms_eps),
    meta.u32(`${a}.rope.dimension_count`, s.head_dim),
    meta.f32(`${a}.rope.freq_base`, s.rope_freq_base),
    meta.u32(`${a}.expert_count`, s.n_expert),
    meta.u32(`${a}.expert_used_count`, s.n_expert_used),
  ];
  if (a === 'qwen2moe' || a === 'qwen3moe' || a === 'grok') m.push(meta.u32(`${a}.expert_feed_forward_length`, s.n_ff_exp));
  if (s.n_ff_shexp > 0) m.push(meta.u32(`${a}.expert_shared_feed_forward_length`, s.n_ff_shexp));
  if (a === 'grok') {
    m.push(
      meta.f32(`${a}.embedding_scale`, s.grok.embedding_scale),
      meta.f32(`${a}.logit_scale`, s.grok.logit_scale),
      meta.f32(`${a}.attention.output_scale`, s.grok.attn_output_scale),
      meta.f32(`${a}.attn_logit_softcapping`, s.grok.attn_logit_softcapping),
    );
  }
  if (a === 'granitemoe') {
    m.push(
      meta.f32(`${a}.embedding_scale`, s.granite.embedding_scale),
      meta.f32(`${a}.logit_scale`, s.granite.logit_scale),
      meta.f32(`${a}.residual_scale`, s.granite.residual_scale),
      meta.f32(`${a}.attention.scale`, s.granite.attention_scale),
    );
  }
  m.push(...tokenizerMetadata(s));
  return m;
}

/** How one tensor's values are drawn. */
type Init = { kind: 'normal'; std: number } | { kind: 'norm' };

export interface PlannedTensor {
  name: string;
  dims: number[]; // ne, innermost first
  type: GgmlType;
  init: Init;
}

/** Every tensor of the model with its shape, type and initialisation. */
export function planTensors(s: ModelSpec): PlannedTensor[] {
  const E = s.n_embd;
  const V = s.n_vocab;
  const qDim = s.n_head * s.head_dim;
  const kvDim = s.n_head_kv * s.head_dim;
  const F = s.n_ff_exp;
  const X = s.n_expert;
  const wt = GGML_TYPE_OF[s.weightType];
  const F32 = GgmlType.F32;
  const normal = (fanIn: number, gain = 1): Init => ({ kind: 'normal', std: gain / Math.sqrt(fanIn) });
  const norm: Init = { kind: 'norm' };

  // Logits = logitFactor · (output · normed x); normed x has rms ≈ 1.
  const logitFactor = s.arch === 'grok' ? s.grok.logit_scale : s.arch === 'granitemoe' ? 1 / s.granite.logit_scale : 1;
  const outputStd = s.output_logit_std / Math.sqrt(E) / logitFactor;
  // Token embeddings enter the residual stream times embedScale; aim for rms ≈ 1 there.
  const embedScale = s.arch === 'grok' ? s.grok.embedding_scale : s.arch === 'granitemoe' ? s.granite.embedding_scale : 1;
  const embdStd = s.tied_output ? outputStd : 1 / embedScale;

  const t: PlannedTensor[] = [{ name: 'token_embd.weight', dims: [E, V], type: wt, init: { kind: 'normal', std: embdStd } }];
  for (let il = 0; il < s.n_layer; il++) {
    const b = (n: string): string => `blk.${il}.${n}.weight`;
    t.push(
      { name: b('attn_norm'), dims: [E], type: F32, init: norm },
      { name: b('attn_q'), dims: [E, qDim], type: wt, init: normal(E, s.qk_gain) },
      { name: b('attn_k'), dims: [E, kvDim], type: wt, init: normal(E, s.qk_gain) },
      { name: b('attn_v'), dims: [E, kvDim], type: wt, init: normal(E) },
      { name: b('attn_output'), dims: [qDim, E], type: wt, init: normal(qDim) },
    );
    if (s.arch === 'qwen3moe') t.push({ name: b('attn_q_norm'), dims: [s.head_dim], type: F32, init: norm }, { name: b('attn_k_norm'), dims: [s.head_dim], type: F32, init: norm });
    if (s.arch === 'olmoe') t.push({ name: b('attn_q_norm'), dims: [qDim], type: F32, init: norm }, { name: b('attn_k_norm'), dims: [kvDim], type: F32, init: norm });
    if (s.arch === 'grok') t.push({ name: b('attn_output_norm'), dims: [E], type: F32, init: norm });
    t.push({ name: b('ffn_norm'), dims: [E], type: F32, init: norm });
    if (X === 0) {
      t.push(
        { name: b('ffn_gate'), dims: [E, F], type: wt, init: normal(E) },
        { name: b('ffn_up'), dims: [E, F], type: wt, init: normal(E) },
        { name: b('ffn_down'), dims: [F, E], type: wt, init: normal(F) },
      );
    } else {
      t.push(
        { name: b('ffn_gate_inp'), dims: [E, X], type: GGML_TYPE_OF[s.routerType], init: normal(E, s.router_logit_std) },
        { name: b('ffn_gate_exps'), dims: [E, F, X], type: wt, init: normal(E) },
        { name: b('ffn_up_exps'), dims: [E, F, X], type: wt, init: normal(E) },
        { name: b('ffn_down_exps'), dims: [F, E, X], type: wt, init: normal(F) },
      );
    }
    if (s.n_ff_shexp > 0) {
      const S = s.n_ff_shexp;
      if (s.arch === 'qwen2moe') t.push({ name: b('ffn_gate_inp_shexp'), dims: [E], type: F32, init: normal(E) });
      t.push(
        { name: b('ffn_gate_shexp'), dims: [E, S], type: wt, init: normal(E) },
        { name: b('ffn_up_shexp'), dims: [E, S], type: wt, init: normal(E) },
        { name: b('ffn_down_shexp'), dims: [S, E], type: wt, init: normal(S) },
      );
    }
    if (s.arch === 'grok') t.push({ name: b('layer_output_norm'), dims: [E], type: F32, init: norm });
  }
  t.push({ name: 'output_norm.weight', dims: [E], type: F32, init: norm });
  if (!s.tied_output) t.push({ name: 'output.weight', dims: [E, V], type: wt, init: { kind: 'normal', std: outputStd } });
  // each matrix's final type: weightType, the recipe's choice or a per-tensor override (tensor-types.ts)
  return t.map((p) => (p.dims.length >= 2 ? { ...p, type: GGML_TYPE_OF[matrixType(s, p.name, p.dims[0]!, p.name.endsWith('.ffn_gate_inp.weight'))] } : p));
}

/**
 * The f32 values of one planned tensor (deterministic from spec.seed and the tensor name), for the types
 * the writer quantizes; the other types are random blocks (random-blocks.ts) with the same spread.
 */
export function tensorValues(s: ModelSpec, p: PlannedTensor): Float32Array {
  const n = p.dims.reduce((x, y) => x * y, 1);
  const rng = new Rng(hashString(p.name, s.seed));
  const out = new Float32Array(n);
  return p.init.kind === 'norm' ? rng.fillNormal(out, NORM_NOISE, 1) : rng.fillNormal(out, p.init.std);
}

/** The bytes of a planned tensor of a random-block type (RANDOM_BLOCK_TYPES). */
export function tensorBlocks(s: ModelSpec, p: PlannedTensor): Uint8Array {
  if (p.init.kind !== 'normal') throw new Error(`tensor ${p.name}: random blocks need a normal init`);
  return randomBlocks(p.type, p.dims.reduce((x, y) => x * y, 1), p.init.std, new Rng(hashString(p.name, s.seed)));
}

/** Largest tensor drawn whole in memory (1 GiB of f32); larger ones need spec.streamedBlocks. */
const MAX_IN_MEMORY_ELEMENTS = 1 << 28;

/** Whether a planned tensor is written as streamed random blocks (spec.streamedBlocks, Q4_0/Q8_0 matrices). */
export function isStreamed(s: ModelSpec, p: PlannedTensor): boolean {
  return Boolean(s.streamedBlocks) && p.init.kind === 'normal' && p.dims.length >= 2 && STREAMED_BLOCK_TYPES.includes(p.type);
}

function modelTensors(s: ModelSpec): GgufWriteTensor[] {
  return planTensors(s).map((p) => {
    const n = p.dims.reduce((x, y) => x * y, 1);
    if (isStreamed(s, p)) {
      const std = p.init.kind === 'normal' ? p.init.std : 1;
      return { name: p.name, dims: p.dims, type: p.type, raw: true, data: () => streamedBlocks(p.type, n, std, s.seed, p.name) };
    }
    if (n > MAX_IN_MEMORY_ELEMENTS) {
      throw new Error(`tensor ${p.name} (${p.dims.join('×')}) is too large to draw in memory: generate Q4_0/Q8_0 with streamedBlocks`);
    }
    return RANDOM_BLOCK_TYPES.includes(p.type)
      ? { name: p.name, dims: p.dims, type: p.type, raw: true, data: () => tensorBlocks(s, p) }
      : { name: p.name, dims: p.dims, type: p.type, data: () => tensorValues(s, p) };
  });
}
