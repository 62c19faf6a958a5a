/**
 * What a generated model looks like: architecture, sizes, weight type, scales and seed. `resolveSpec`
 * turns a partial spec (at least `arch`) into a complete, validated one from a preset; `specHash`
 * names it in the model cache.
 */
import { createHash } from 'node:crypto';
import { requireFormat } from '../../daemon/formats/table.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import type { TokenizerPre } from './tokenizer-vocab.js';
import { minSpmVocab } from './spm-vocab.js';

/** Bump when the generator's output for a given spec changes (weights, metadata, vocabulary). */
export const GENERATOR_VERSION = 2;

export const MOE_ARCHS = ['grok', 'llama', 'qwen2moe', 'qwen3moe', 'olmoe', 'granitemoe'] as const;
/** Architectures without experts (besides the dense variants of llama and granitemoe). */
export const DENSE_ARCHS = ['qwen2'] as const;
export const ARCHS = [...MOE_ARCHS, ...DENSE_ARCHS] as const;
export type Arch = (typeof ARCHS)[number];
/** Any architecture the generator writes (the name predates the dense ones). */
export type MoeArch = Arch;

/** The weight types the engine runs (the engine conformance suites iterate over these). */
export const WEIGHT_TYPES = ['F32', 'F16', 'Q8_0', 'Q4_0'] as const;
/** Types with reference code only so far (daemon/formats; no kernels yet): generated as random blocks, except BF16. */
export const REFERENCE_ONLY_WEIGHT_TYPES = ['BF16', 'Q4_1', 'Q5_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K', 'IQ4_NL', 'IQ4_XS', 'MXFP4'] as const;
export const ALL_WEIGHT_TYPES = [...WEIGHT_TYPES, ...REFERENCE_ONLY_WEIGHT_TYPES] as const;
export type WeightTypeName = (typeof ALL_WEIGHT_TYPES)[number];

/**
 * Vocabulary styles: 'gpt2' byte-level BPE with ChatML and FIM control tokens (tokenizer-vocab.ts, the
 * default); 'llama' SentencePiece as Llama-2 / Mistral / Mixtral GGUFs (spm-vocab.ts); 'codellama'
 * the same plus CodeLlama's ▁<PRE> ▁<SUF> ▁<MID> ▁<EOT>.
 */
export const TOKENIZERS = ['gpt2', 'llama', 'codellama'] as const;
export type TokenizerStyle = (typeof TOKENIZERS)[number];

/** n_vocab of the tiny preset for SentencePiece styles: room for the corpus's pieces (512 is too few). */
const TINY_SPM_VOCAB = 3000;

/** llama.cpp quantization mixes (llama_tensor_get_type) the generator can reproduce: tensor-types.ts. */
export const RECIPES = ['Q4_K_M'] as const;
export type RecipeName = (typeof RECIPES)[number];

/**
 * tiny: the small test model (widths multiples of 32, so no K-quant fits); tiny256: the same with every
 * width a multiple of 256 so K-quant and IQ4_XS tensors exist (qwen2moe's shared expert stays 128 wide,
 * so recipes still fall back there); bench: a 1–2 B model for speed; grok1-slice: 2 of Grok-1's 64
 * layers at its true shapes (GROK1 below; arch grok only), Q4_0 by default, streamed to disk.
 */
export const PRESETS = ['tiny', 'tiny256', 'bench', 'grok1-slice'] as const;
export type PresetName = (typeof PRESETS)[number];

/**
 * Grok-1 (xai-org/grok-1: 314 B parameters) as its GGUF conversions hold it (llama.cpp's convert-grok.py
 * and GrokModel in convert_hf_to_gguf.py; llama.cpp's grok loader fills the scales' defaults the same):
 * vocab 131,072 (SentencePiece, tokenizer.ggml.model "llama"), n_embd 6,144, 64 layers, 48 query / 8 KV
 * heads of 128, 8 experts of width 32,768 (feed_forward_length; GELU), top-2, context 8,192, RoPE base
 * 10,000, RMS eps 1e-5, and the scales embedding 78.38367 (√6144), logits 0.57735, attention output
 * 0.0883883 (1/√128), attention logit soft-cap 30.
 *
 * Grok-1 ties its output to the embedding (InOutEmbed decodes with it): GGUFs from convert-grok.py have no
 * output.weight and llama.cpp reuses token_embd; those converted from the Hugging Face ports (whose lm_head
 * is a saved copy) carry output.weight. The slice carries it (GROK1_SLICE_UNTIED): with random weights a
 * tied 2-layer model echoes its input (the embedding's self product outweighs two layers: the next token is
 * the input token by ~200 nats), which would leave the conformance check and greedy decoding nothing to
 * compare. The bytes read per decoded token are the same either way (one 131,072 × 6,144 matrix).
 */
export const GROK1 = {
  n_vocab: 131072,
  n_embd: 6144,
  n_layer: 64,
  n_head: 48,
  n_head_kv: 8,
  head_dim: 128,
  n_expert: 8,
  n_expert_used: 2,
  n_ff_exp: 32768,
  n_ctx: 8192,
  rope_freq_base: 10000,
  rms_eps: 1e-5,
} as const;

/** Layers in the grok1-slice preset. */
export const GROK1_SLICE_LAYERS = 2;
/** The slice has its own output.weight (see GROK1). */
export const GROK1_SLICE_UNTIED = true;

export interface GrokScales {
  embedding_scale: number; // token embeddings multiplied by it
  logit_scale: number; // logits multiplied by it
  attn_output_scale: number; // q·k multiplied by it before the softcap (replaces 1/sqrt(head_dim))
  attn_logit_softcapping: number; // score = cap·tanh(score/cap)
}

export interface GraniteScales {
  embedding_scale: number; // token embeddings multiplied by it
  logit_scale: number; // logits DIVIDED by it
  residual_scale: number; // attention and FFN outputs multiplied by it before each residual add
  attention_scale: number; // replaces 1/sqrt(head_dim) in attention
}

/** rope.scaling.* keys: linear interpolation, or YaRN (factor, original context length). */
export interface RopeScalingSpec {
  type: 'linear' | 'yarn';
  factor: number;
  /** rope.scaling.original_context_length (YaRN's n_ctx_orig; absent: the training context). */
  original_context_length?: number;
}

export interface ModelSpec {
  arch: MoeArch;
  /** Type of every weight matrix (token_embd, attention, experts, output); norms stay F32. With a recipe: its base type. */
  weightType: WeightTypeName;
  /** A llama.cpp quantization mix choosing each matrix's type (absent: every matrix is weightType). */
  recipe?: RecipeName;
  /**
   * Per-tensor types, overriding weightType, the recipe and routerType: tensor-name patterns (`*` matches
   * any run of characters, e.g. `blk.*.ffn_down_exps.weight`) → type; the first matching pattern wins, as
   * llama-quantize's --tensor-type. Only matrices (2-D and 3-D tensors) are affected.
   */
  tensorTypes?: Readonly<Record<string, WeightTypeName>>;
  /** Type of the router `ffn_gate_inp` (llama-quantize never quantizes it). */
  routerType: WeightTypeName;
  /**
   * Q4_0 / Q8_0 matrices written as random valid blocks streamed to disk (streamed-blocks.ts) instead of
   * quantized Gaussian f32 values: for models of many GB (the grok1-slice preset). Absent: false (and left
   * out of the spec's hash, so other specs keep their names).
   */
  streamedBlocks?: boolean;
  n_vocab: number;
  n_embd: number;
  n_layer: number;
  n_head: number;
  n_head_kv: number;
  /** Per-head size of q, k and v (n_embd_head_k = n_embd_head_v = n_rot). */
  head_dim: number;
  /** 0 → dense FFN (llama and granitemoe only). */
  n_expert: number;
  n_expert_used: number;
  /** Expert FFN width (the dense FFN width when n_expert = 0). */
  n_ff_exp: number;
  /** Shared-expert width: required > 0 for qwen2moe, optional for granitemoe, 0 elsewhere. */
  n_ff_shexp: number;
  n_ctx: number;
  rope_freq_base: number;
  rms_eps: number;
  /** Omit `output.weight` so llama.cpp reuses token_embd (qwen3moe, llama, granitemoe, grok). */
  tied_output: boolean;
  seed: number;
  /** Std of router logits (sets how clearly top-k wins; larger → clearer margins, more peaked weights). */
  router_logit_std: number;
  /** Std of output logits before any arch scaling (larger → more peaked next-token distribution). */
  output_logit_std: number;
  /** Gain on q and k projections (attention sharpness). */
  qk_gain: number;
  grok: GrokScales;
  granite: GraniteScales;
  /** Vocabulary style (default 'gpt2'). */
  tokenizer: TokenizerStyle;
  /** Pre-tokenizer of the 'gpt2' style (SentencePiece has none). */
  tokenizer_pre: TokenizerPre;
  name: string;
  // Optional layout and feature choices: absent means off (and keeps the spec hash of older specs).
  /**
   * Bias vectors where the architecture's llama.cpp graph reads them: q/k/v (qwen2, qwen2moe, llama,
   * granitemoe), attn_output and the dense FFN's gate/up/down (llama, granitemoe). qwen2 has them by default.
   */
  biases?: boolean;
  /** 'per-expert': old Mixtral files, one 2-D tensor per expert (blk.N.ffn_up.E.weight); same weights as merged. */
  expert_layout?: 'merged' | 'per-expert';
  /** A rope_freqs.weight of Llama 3.1-style frequency factors (llama, granitemoe). */
  rope_freqs?: boolean;
  rope_scaling?: RopeScalingSpec;
  /** Written as this many split files (gguf-split naming); same tensors and metadata. */
  split_parts?: number;
}

export type ModelSpecInput = Partial<Omit<ModelSpec, 'grok' | 'granite'>> & {
  arch: MoeArch;
  preset?: PresetName;
  grok?: Partial<GrokScales>;
  granite?: Partial<GraniteScales>;
};

export const GGML_TYPE_OF: Record<WeightTypeName, GgmlType> = {
  F32: GgmlType.F32,
  F16: GgmlType.F16,
  Q8_0: GgmlType.Q8_0,
  Q4_0: GgmlType.Q4_0,
  BF16: GgmlType.BF16,
  Q4_1: GgmlType.Q4_1,
  Q5_0: GgmlType.Q5_0,
  Q5_1: GgmlType.Q5_1,
  Q2_K: GgmlType.Q2_K,
  Q3_K: GgmlType.Q3_K,
  Q4_K: GgmlType.Q4_K,
  Q5_K: GgmlType.Q5_K,
  Q6_K: GgmlType.Q6_K,
  IQ4_NL: GgmlType.IQ4_NL,
  IQ4_XS: GgmlType.IQ4_XS,
  MXFP4: GgmlType.MXFP4,
};

/** The base type of each recipe (llama.cpp's default type for that ftype). */
export const RECIPE_BASE: Record<RecipeName, WeightTypeName> = { Q4_K_M: 'Q4_K' };

/** Elements per block of a weight type. */
export function blockSizeOf(t: WeightTypeName): number {
  return requireFormat(GGML_TYPE_OF[t]).blockSize;
}

/** Archs whose q/k/v widths may differ from n_embd (they size attn_q/attn_output by n_head·head_dim). */
const FREE_HEAD_DIM: ReadonlySet<MoeArch> = new Set(['qwen3moe', 'llama', 'granitemoe']);
/** Archs that build a dense FFN when n_expert = 0. */
const DENSE_OK: ReadonlySet<MoeArch> = new Set(['llama', 'granitemoe', 'qwen2']);
/** Archs that may omit output.weight. */
const TIED_OK: ReadonlySet<MoeArch> = new Set(['qwen3moe', 'llama', 'granitemoe', 'grok', 'qwen2']);
/** Archs whose llama.cpp graph adds q/k/v biases (and, for llama and granitemoe, attn_output and dense FFN biases). */
export const BIAS_ARCHS: ReadonlySet<MoeArch> = new Set(['qwen2', 'qwen2moe', 'llama', 'granitemoe']);
/** Archs that read rope_freqs.weight. */
const ROPE_FREQS_ARCHS: ReadonlySet<MoeArch> = new Set(['llama', 'granitemoe']);
/** Archs whose old files stored one tensor per expert (and that the engine reads so). */
const PER_EXPERT_ARCHS: ReadonlySet<MoeArch> = new Set(['llama', 'grok']);

function presetFor(arch: MoeArch, preset: PresetName): Omit<ModelSpec, 'arch' | 'grok' | 'granite' | 'name'> {
  if (preset === 'grok1-slice') {
    if (arch !== 'grok') throw new Error(`preset 'grok1-slice' is Grok-1's layout: arch must be 'grok', got '${arch}'`);
    return {
      ...GROK1,
      n_layer: GROK1_SLICE_LAYERS,
      n_ff_shexp: 0,
      weightType: 'Q4_0',
      routerType: 'F32',
      streamedBlocks: true,
      tied_output: !GROK1_SLICE_UNTIED,
      seed: 1,
      router_logit_std: 6,
      output_logit_std: 3,
      qk_gain: 1.5,
      tokenizer: 'llama',
      tokenizer_pre: 'default',
    };
  }
  const base =
    preset === 'tiny' || preset === 'tiny256'
      ? {
          n_vocab: 512,
          n_embd: 128,
          n_layer: 2,
          n_head: 4,
          n_head_kv: 2,
          head_dim: 32,
          n_expert: 8,
          n_expert_used: 2,
          n_ff_exp: 64,
          n_ff_shexp: 0,
          n_ctx: 512,
        }
      : {
          n_vocab: 32000,
          n_embd: 2048,
          n_layer: 16,
          n_head: 16,
          n_head_kv: 4,
          head_dim: 128,
          n_expert: 8,
          n_expert_used: 2,
          n_ff_exp: 2048,
          n_ff_shexp: 0,
          n_ctx: 4096,
        };
  if (preset === 'tiny256') Object.assign(base, { n_embd: 256, head_dim: 64, n_ff_exp: 256 });
  if (arch === 'qwen3moe' && preset === 'tiny') base.head_dim = 64; // q width 256 ≠ n_embd: exercises key_length
  if (arch === 'qwen3moe' && preset === 'tiny256') base.head_dim = 128; // q width 512 ≠ n_embd
  if (arch === 'olmoe') base.n_head_kv = base.n_head; // olmoe's q/k norms span all heads: no GQA
  if (arch === 'qwen2moe') base.n_ff_shexp = preset === 'bench' ? 4096 : 128;
  // dense, FFN width 160 in the tiny preset: five Q8_0 blocks, so tensor-parallel ranks get unequal slices
  if (arch === 'qwen2') Object.assign(base, { n_expert: 0, n_expert_used: 0, n_ff_exp: preset === 'bench' ? 5632 : preset === 'tiny256' ? 512 : 160 });
  return {
    ...base,
    weightType: 'F32',
    routerType: 'F32',
    rope_freq_base: arch === 'qwen3moe' || arch === 'qwen2moe' || arch === 'qwen2' ? 1000000 : 10000,
    rms_eps: arch === 'olmoe' || arch === 'qwen3moe' ? 1e-6 : 1e-5,
    tied_output: arch === 'qwen3moe',
    seed: 1,
    // Router logits with std 6: the k-th and (k+1)-th experts are usually far apart, so activation
    // noise (f16 / Q8_0 rounding) changes the selection in only ~1% of routing decisions, while the
    // second expert keeps a weight of ~0.1 after renormalisation.
    router_logit_std: 6,
    output_logit_std: 3,
    qk_gain: 1.5,
    tokenizer: 'gpt2',
    tokenizer_pre: 'qwen2',
    ...(arch === 'qwen2' ? { biases: true } : {}),
  };
}

/** Fills a partial spec from its preset (default 'tiny') and validates it. */
export function resolveSpec(input: ModelSpecInput): ModelSpec {
  const { preset = 'tiny', grok, granite, ...rest } = input;
  if (!ARCHS.includes(input.arch)) throw new Error(`unknown arch '${String(input.arch)}' (known: ${ARCHS.join(', ')})`);
  if (!PRESETS.includes(preset)) throw new Error(`unknown preset '${String(preset)}' (known: ${PRESETS.join(', ')})`);
  const p = presetFor(input.arch, preset);
  const defined = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)) as Partial<ModelSpec>;
  const merged = { ...p, ...defined, arch: input.arch } as Omit<ModelSpec, 'grok' | 'granite' | 'name'> & { name?: string };
  if (merged.n_expert === 0 && defined.n_expert_used === undefined) merged.n_expert_used = 0; // dense
  if (merged.tokenizer !== 'gpt2' && defined.n_vocab === undefined && (preset === 'tiny' || preset === 'tiny256')) merged.n_vocab = TINY_SPM_VOCAB;
  if (merged.recipe !== undefined && defined.weightType === undefined && RECIPES.includes(merged.recipe)) merged.weightType = RECIPE_BASE[merged.recipe];
  const spec: ModelSpec = {
    ...merged,
    grok: {
      embedding_scale: Math.sqrt(merged.n_embd), // grok-1: 78.38 = sqrt(6144)
      logit_scale: 0.5773502691896257, // grok-1's value
      attn_output_scale: 1 / Math.sqrt(merged.head_dim), // grok-1: 0.0884 = 1/sqrt(128)
      attn_logit_softcapping: 30,
      ...grok,
    },
    granite: {
      embedding_scale: 12, // granite-3.0 MoE values
      logit_scale: 6,
      residual_scale: 0.22,
      attention_scale: 1 / merged.head_dim,
      ...granite,
    },
    name: merged.name ?? (preset === 'grok1-slice' ? `grok-1 slice (${merged.n_layer} of ${GROK1.n_layer} layers)` : `moecode-${input.arch}-${preset}`),
  };
  if (!spec.streamedBlocks) delete spec.streamedBlocks; // absent, not false: the hash of every other spec stays
  validateSpec(spec);
  return spec;
}

export function validateSpec(s: ModelSpec): void {
  const fail = (msg: string): never => {
    throw new Error(`invalid model spec (${s.arch}): ${msg}`);
  };
  const ints: Array<keyof ModelSpec> = ['n_vocab', 'n_embd', 'n_layer', 'n_head', 'n_head_kv', 'head_dim', 'n_expert', 'n_expert_used', 'n_ff_exp', 'n_ff_shexp', 'n_ctx', 'seed'];
  for (const k of ints) {
    const v = s[k] as number;
    if (!Number.isSafeInteger(v) || v < 0) fail(`${k} must be a non-negative integer, got ${String(v)}`);
  }
  for (const k of ['n_embd', 'n_layer', 'n_head', 'n_head_kv', 'head_dim', 'n_ff_exp', 'n_ctx'] as const) if (s[k] === 0) fail(`${k} must be > 0`);
  const known = (t: unknown): boolean => (ALL_WEIGHT_TYPES as readonly unknown[]).includes(t);
  if (!known(s.weightType)) fail(`weightType must be one of ${ALL_WEIGHT_TYPES.join(', ')}`);
  if (!known(s.routerType)) fail(`routerType must be one of ${ALL_WEIGHT_TYPES.join(', ')}`);
  if (s.recipe !== undefined) {
    if (!RECIPES.includes(s.recipe)) fail(`recipe must be one of ${RECIPES.join(', ')}`);
    else if (s.weightType !== RECIPE_BASE[s.recipe]) fail(`recipe ${s.recipe} starts from ${RECIPE_BASE[s.recipe]}, not weightType ${s.weightType}`);
  }
  for (const [pattern, t] of Object.entries(s.tensorTypes ?? {})) {
    if (pattern.length === 0) fail('tensorTypes: empty tensor-name pattern');
    if (!known(t)) fail(`tensorTypes['${pattern}'] must be one of ${ALL_WEIGHT_TYPES.join(', ')}`);
  }
  if (s.n_head % s.n_head_kv !== 0) fail(`n_head (${s.n_head}) must be a multiple of n_head_kv (${s.n_head_kv})`);
  if (s.head_dim % 2 !== 0) fail('head_dim must be even (RoPE rotates pairs)');
  if (!FREE_HEAD_DIM.has(s.arch) && s.n_head * s.head_dim !== s.n_embd) fail(`${s.arch} needs n_head·head_dim = n_embd (${s.n_head}·${s.head_dim} ≠ ${s.n_embd})`);
  if (s.arch === 'olmoe' && s.n_head_kv !== s.n_head) fail('olmoe needs n_head_kv = n_head');
  if (s.n_expert === 0) {
    if (!DENSE_OK.has(s.arch)) fail(`${s.arch} has no dense variant (n_expert must be > 0)`);
    if (s.n_expert_used !== 0) fail('a dense model (n_expert = 0) needs n_expert_used = 0');
    if (s.n_ff_shexp !== 0) fail('a dense model has no shared expert');
  } else {
    if (s.n_expert_used < 1 || s.n_expert_used > s.n_expert) fail(`n_expert_used must be in 1..n_expert, got ${s.n_expert_used}`);
    if (s.n_expert > 512) fail('n_expert > 512 (LLAMA_MAX_EXPERTS)');
  }
  if (s.arch === 'qwen2moe' && s.n_ff_shexp === 0) fail('qwen2moe needs a shared expert (n_ff_shexp > 0)');
  if (s.arch !== 'qwen2moe' && s.arch !== 'granitemoe' && s.n_ff_shexp !== 0) fail(`${s.arch} has no shared expert (n_ff_shexp must be 0)`);
  if (s.tied_output && !TIED_OK.has(s.arch)) fail(`${s.arch} requires output.weight (tied_output must be false)`);
  // every matrix's row length (ne[0]) must be a whole number of blocks of its type; a recipe falls back by
  // itself and per-tensor overrides are checked when the tensors are planned (tensor-types.ts)
  const widths = [['n_embd', s.n_embd], ['n_head·head_dim', s.n_head * s.head_dim], ['n_ff_exp', s.n_ff_exp], ['n_ff_shexp', s.n_ff_shexp]] as const;
  if (s.recipe === undefined && known(s.weightType)) {
    const bs = blockSizeOf(s.weightType);
    for (const [k, v] of widths) {
      if (v % bs !== 0) fail(`${k} = ${v} must be a multiple of ${bs} for ${s.weightType}${bs === 256 ? " (preset 'tiny256' has such widths)" : ''}`);
    }
  }
  if (known(s.routerType) && s.n_expert > 0 && s.n_embd % blockSizeOf(s.routerType) !== 0) {
    fail(`n_embd = ${s.n_embd} must be a multiple of ${blockSizeOf(s.routerType)} for routerType ${s.routerType}`);
  }
  for (const k of ['rope_freq_base', 'rms_eps', 'router_logit_std', 'output_logit_std', 'qk_gain'] as const) {
    if (!(Number.isFinite(s[k]) && s[k] > 0)) fail(`${k} must be a positive number`);
  }
  for (const [k, v] of Object.entries({ ...s.grok, ...s.granite })) if (!(Number.isFinite(v) && v > 0)) fail(`scale ${k} must be a positive number`);
  if (s.tokenizer_pre !== 'qwen2' && s.tokenizer_pre !== 'default') fail(`tokenizer_pre must be 'qwen2' or 'default'`);
  if (!TOKENIZERS.includes(s.tokenizer)) fail(`tokenizer must be one of ${TOKENIZERS.join(', ')}`);
  if (s.streamedBlocks) {
    if (s.weightType !== 'Q4_0' && s.weightType !== 'Q8_0') fail(`streamedBlocks writes Q4_0 or Q8_0 blocks, not weightType ${s.weightType}`);
    if (s.recipe !== undefined) fail('streamedBlocks takes no recipe');
  }
  if (s.tokenizer !== 'gpt2' && s.n_vocab < minSpmVocab(s.tokenizer)) fail(`a ${s.tokenizer} vocabulary needs n_vocab ≥ ${minSpmVocab(s.tokenizer)}, got ${s.n_vocab}`);
  if (s.arch === 'qwen2' && s.n_expert !== 0) fail('qwen2 is dense (n_expert must be 0)');
  if (s.biases && !BIAS_ARCHS.has(s.arch)) fail(`biases: llama.cpp's ${s.arch} graph reads none (only ${[...BIAS_ARCHS].join(', ')})`);
  if (s.rope_freqs && !ROPE_FREQS_ARCHS.has(s.arch)) fail(`rope_freqs: llama.cpp's ${s.arch} graph does not read them (only ${[...ROPE_FREQS_ARCHS].join(', ')})`);
  if (s.expert_layout !== undefined && s.expert_layout !== 'merged' && s.expert_layout !== 'per-expert') fail("expert_layout must be 'merged' or 'per-expert'");
  if (s.expert_layout === 'per-expert') {
    if (!PER_EXPERT_ARCHS.has(s.arch) || s.n_expert === 0) fail(`expert_layout 'per-expert' needs experts and arch ${[...PER_EXPERT_ARCHS].join(' or ')}`);
    if (s.recipe !== undefined) fail("expert_layout 'per-expert' with a recipe is not supported (the recipe's rules name merged tensors)");
  }
  if (s.rope_scaling !== undefined) {
    const r = s.rope_scaling;
    if (r.type !== 'linear' && r.type !== 'yarn') fail("rope_scaling.type must be 'linear' or 'yarn'");
    if (!(Number.isFinite(r.factor) && r.factor > 0)) fail('rope_scaling.factor must be a positive number');
    if (r.original_context_length !== undefined && !(Number.isSafeInteger(r.original_context_length) && r.original_context_length > 0)) fail('rope_scaling.original_context_length must be a positive integer');
  }
  if (s.split_parts !== undefined && !(Number.isSafeInteger(s.split_parts) && s.split_parts >= 2 && s.split_parts <= 99)) fail('split_parts must be an integer in 2..99');
}

/**
 * Short stable hash naming a spec in the model cache (covers the generator version). The default
 * tokenizer style is left out, so specs from before the style existed keep their names.
 */
export function specHash(s: ModelSpec): string {
  const { tokenizer, ...rest } = s;
  const canon = JSON.stringify({ v: GENERATOR_VERSION, ...sortKeys(tokenizer === 'gpt2' ? rest : s) });
  return createHash('sha256').update(canon).digest('hex').slice(0, 16);
}

function sortKeys(o: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) {
    const v = (o as Record<string, unknown>)[k];
    out[k] = v !== null && typeof v === 'object' ? sortKeys(v) : v;
  }
  return out;
}
