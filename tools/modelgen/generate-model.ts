/**
 * Generates a small random GGUF model that llama.cpp loads, for any of the six MoE architectures and
 * dense qwen2 (optionally with biases, rope_freqs, RoPE scaling, per-expert tensors, or split into parts).
 * Weights are Gaussian with std ≈ gain/sqrt(fan_in) so activations stay O(1) through the layers;
 * norm weights are 1 + small noise; each tensor has its own PRNG stream (seeded by spec.seed and the
 * tensor name), so the same spec with another weight type holds the same underlying weights.
 * Tensors are produced one at a time (the writer streams them), so large presets fit in memory; with
 * spec.streamedBlocks (the grok1-slice preset) Q4_0/Q8_0 matrices are random blocks streamed in chunks
 * (streamed-blocks.ts), so a slice of many GB is written in a minute or two with bounded memory.
 */
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { meta, writeGguf, writeGgufSplit } from '../../daemon/gguf/gguf-writer.js';
import { splitPrefix } from '../../daemon/gguf/gguf-split.js';
import type { GgufMetaEntry, GgufWriteTensor } from '../../daemon/gguf/gguf-writer.js';
import { BIAS_ARCHS, GGML_TYPE_OF, resolveSpec } from './model-spec.js';
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

/** Std of generated bias values (Qwen2's q/k biases are of this order next to O(1) projections). */
const BIAS_STD = 0.3;

/**
 * Writes the model to `outPath`; a spec with split_parts writes the parts, `outPath` naming the first
 * (`NAME-00001-of-0000N.gguf`). Returns every file written, first part first.
 */
export async function generateModel(input: ModelSpec | ModelSpecInput, outPath: string): Promise<string[]> {
  const spec = resolveSpec(input);
  if (spec.split_parts === undefined) {
    await writeGguf(outPath, modelMetadata(spec), modelTensors(spec));
    return [outPath];
  }
  const prefix = splitPrefix(outPath, 0, spec.split_parts);
  if (prefix === undefined) throw new Error(`a model split into ${spec.split_parts} parts is written to NAME-00001-of-${String(spec.split_parts).padStart(5, '0')}.gguf, not ${outPath}`);
  return writeGgufSplit(prefix, modelMetadata(spec), modelTensors(spec), spec.split_parts);
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
  ];
  if (a !== 'qwen2') m.push(meta.u32(`${a}.expert_count`, s.n_expert), meta.u32(`${a}.expert_used_count`, s.n_expert_used));
  if (s.rope_scaling) {
    m.push(meta.str(`${a}.rope.scaling.type`, s.rope_scaling.type), meta.f32(`${a}.rope.scaling.factor`, s.rope_scaling.factor));
    if (s.rope_scaling.original_context_length !== undefined) m.push(meta.u32(`${a}.rope.scaling.original_context_length`, s.rope_scaling.original_context_length));
  }
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

/**
 * How one tensor's values are drawn: Gaussian, a norm weight (1 + noise), Llama 3.1 RoPE frequency
 * factors, or one expert's slab of a merged expert tensor (per-expert layout: the same values as slab
 * `expert` of `of`, whose init it shares).
 */
type Init =
  | { kind: 'normal'; std: number }
  | { kind: 'norm' }
  | { kind: 'rope_freqs' }
  | { kind: 'slab'; of: string; dims: number[]; expert: number; std: number };

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

  const biases = Boolean(s.biases) && BIAS_ARCHS.has(s.arch);
  const denseBiases = biases && (s.arch === 'llama' || s.arch === 'granitemoe');
  const bias: Init = { kind: 'normal', std: BIAS_STD };
  const t: PlannedTensor[] = [{ name: 'token_embd.weight', dims: [E, V], type: wt, init: { kind: 'normal', std: embdStd } }];
  if (s.rope_freqs) t.push({ name: 'rope_freqs.weight', dims: [s.head_dim / 2], type: F32, init: { kind: 'rope_freqs' } });
  for (let il = 0; il < s.n_layer; il++) {
    const b = (n: string): string => `blk.${il}.${n}.weight`;
    const bb = (n: string): string => `blk.${il}.${n}.bias`;
    t.push(
      { name: b('attn_norm'), dims: [E], type: F32, init: norm },
      { name: b('attn_q'), dims: [E, qDim], type: wt, init: normal(E, s.qk_gain) },
      { name: b('attn_k'), dims: [E, kvDim], type: wt, init: normal(E, s.qk_gain) },
      { name: b('attn_v'), dims: [E, kvDim], type: wt, init: normal(E) },
      { name: b('attn_output'), dims: [qDim, E], type: wt, init: normal(qDim) },
    );
    if (biases) t.push({ name: bb('attn_q'), dims: [qDim], type: F32, init: bias }, { name: bb('attn_k'), dims: [kvDim], type: F32, init: bias }, { name: bb('attn_v'), dims: [kvDim], type: F32, init: bias });
    if (denseBiases) t.push({ name: bb('attn_output'), dims: [E], type: F32, init: bias });
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
      if (denseBiases) t.push({ name: bb('ffn_gate'), dims: [F], type: F32, init: bias }, { name: bb('ffn_up'), dims: [F], type: F32, init: bias }, { name: bb('ffn_down'), dims: [E], type: F32, init: bias });
    } else {
      t.push({ name: b('ffn_gate_inp'), dims: [E, X], type: GGML_TYPE_OF[s.routerType], init: normal(E, s.router_logit_std) });
      const exps: [string, number[], number][] = [['ffn_gate', [E, F], E], ['ffn_up', [E, F], E], ['ffn_down', [F, E], F]];
      for (const [n, dims, fanIn] of exps) {
        const merged = b(`${n}_exps`);
        if (s.expert_layout !== 'per-expert') t.push({ name: merged, dims: [...dims, X], type: wt, init: normal(fanIn) });
        else {
          for (let e = 0; e < X; e++) t.push({ name: `blk.${il}.${n}.${e}.weight`, dims, type: wt, init: { kind: 'slab', of: merged, dims: [...dims, X], expert: e, std: 1 / Math.sqrt(fanIn) } });
        }
      }
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
  if (p.init.kind === 'rope_freqs') return llama3FreqFactors(s.head_dim, s.rope_freq_base);
  if (p.init.kind === 'slab') {
    const whole = tensorValues(s, { name: p.init.of, dims: p.init.dims, type: p.type, init: { kind: 'normal', std: p.init.std } });
    return whole.slice(p.init.expert * n, (p.init.expert + 1) * n);
  }
  const rng = new Rng(hashString(p.name, s.seed));
  const out = new Float32Array(n);
  return p.init.kind === 'norm' ? rng.fillNormal(out, NORM_NOISE, 1) : rng.fillNormal(out, p.init.std);
}

/** The bytes of a planned tensor of a random-block type (RANDOM_BLOCK_TYPES). */
export function tensorBlocks(s: ModelSpec, p: PlannedTensor): Uint8Array {
  if (p.init.kind === 'slab') {
    const whole = tensorBlocks(s, { name: p.init.of, dims: p.init.dims, type: p.type, init: { kind: 'normal', std: p.init.std } });
    const bytes = whole.length / p.init.dims[2]!;
    return whole.slice(p.init.expert * bytes, (p.init.expert + 1) * bytes);
  }
  if (p.init.kind !== 'normal') throw new Error(`tensor ${p.name}: random blocks need a normal init`);
  return randomBlocks(p.type, p.dims.reduce((x, y) => x * y, 1), p.init.std, new Rng(hashString(p.name, s.seed)));
}

/**
 * Llama 3.1's RoPE frequency factors (scaling factor 8, low/high frequency factors 1 and 4, original
 * context 8192): 1 for wavelengths under 2048 positions, 8 over 8192, a smooth blend between — so a
 * tiny model's n_rot/2 pairs get all three kinds.
 */
export function llama3FreqFactors(nRot: number, freqBase: number): Float32Array {
  const [factor, lowFreq, highFreq, origCtx] = [8, 1, 4, 8192];
  const lowWavelen = origCtx / lowFreq;
  const highWavelen = origCtx / highFreq;
  return Float32Array.from({ length: nRot / 2 }, (_, i) => {
    const wavelen = (2 * Math.PI) / Math.pow(freqBase, (-2 * i) / nRot);
    if (wavelen < highWavelen) return 1;
    if (wavelen > lowWavelen) return factor;
    const smooth = (origCtx / wavelen - lowFreq) / (highFreq - lowFreq);
    return 1 / ((1 - smooth) / factor + smooth);
  });
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
