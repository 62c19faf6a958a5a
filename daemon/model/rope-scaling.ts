/**
 * RoPE scaling as llama.cpp resolves it: the keys read in llama_model_base::load_hparams (rope.freq_base,
 * rope.scaling.{type,factor,attn_factor,original_context_length}; grok also reads the YaRN keys), then
 * llama_context's cparams (ext_factor 1 for YaRN, the YaRN attention factor), ending in the arguments
 * ggml_rope_ext is given. Every step in f32, as the C code computes it.
 *
 * YaRN (ggml-cpu rope_yarn): for pair i, theta_extrap = pos · base^(-2i/n_rot) / freq_factor_i,
 * theta_interp = freq_scale · theta_extrap, ramp_i = 1 − clamp((i − low) / max(0.001, high − low), 0, 1),
 * mix = ramp_i · ext_factor, theta = theta_interp · (1 − mix) + theta_extrap · mix, and cos/sin are
 * multiplied by attn_factor · (1 + 0.1 · ln(1 / freq_scale)); [low, high] = the correction dims
 * (ggml_rope_yarn_corr_dims) from beta_fast / beta_slow and n_ctx_orig.
 */
import { GgufError } from '../gguf/gguf-error.js';
import type { GgufMetaSource } from '../gguf/gguf-metadata.js';
import { metaF32, metaHas, metaStr, metaU32 } from '../gguf/gguf-metadata.js';

/** The RoPE arguments of ggml_rope_ext (besides n_rot, mode and the frequency factors). */
export interface RopeScaling {
  freq_base: number;
  /** 1 / rope.scaling.factor; 1 when absent, 0 or scaling type 'none'. */
  freq_scale: number;
  /** cparams.yarn_attn_factor: cos and sin are multiplied by it (and, with YaRN, by its mscale). */
  attn_factor: number;
  /** YaRN's extrapolation mix; 0: YaRN off. */
  ext_factor: number;
  beta_fast: number;
  beta_slow: number;
  /** n_ctx_orig_yarn: rope.scaling.original_context_length, else the training context. */
  n_ctx_orig: number;
}

export type RopeScalingType = 'none' | 'linear' | 'yarn';

export interface RopeHparams {
  type: RopeScalingType;
  /** rope.scaling.attn_factor as stored (default 1). */
  attn_factor_key: number;
  scaling: RopeScaling;
}

const f = Math.fround;

/** ggml's get_mscale in llama_context: 0.1·mscale·ln(scale) + 1 for scale > 1, else 1. */
function mscaleOf(scale: number, mscale: number): number {
  return scale <= 1 ? 1 : f(f(f(0.1 * mscale) * f(Math.log(scale))) + 1);
}

/** Reads the RoPE scaling of `arch` (keys prefixed `arch.`). */
export function readRopeHparams(file: GgufMetaSource, arch: string, n_ctx_train: number): RopeHparams {
  const k = (s: string) => `${arch}.${s}`;
  const freq_base = metaF32(file, k('rope.freq_base'), 10000);
  const type = metaStr(file, k('rope.scaling.type'), 'linear');
  if (type === 'longrope') throw new GgufError('UNSUPPORTED_FEATURE', `'${k('rope.scaling.type')}' = 'longrope' is not supported (only 'none', 'linear' and 'yarn')`);
  if (type !== 'none' && type !== 'linear' && type !== 'yarn') {
    throw new GgufError('BAD_VALUE_TYPE', `'${k('rope.scaling.type')}' = '${type.slice(0, 40)}' is not a known rope scaling type`);
  }
  const factor = metaHas(file, k('rope.scaling.factor')) ? metaF32(file, k('rope.scaling.factor')) : metaF32(file, k('rope.scale_linear'), 0);
  // llama.cpp: freq_scale_train = 1/factor (1 when 0); cparams force it to 1 for type 'none'
  const freq_scale = type === 'none' || factor === 0 ? 1 : f(1 / factor);
  if (!(freq_scale > 0) || !Number.isFinite(freq_scale)) throw new GgufError('BAD_VALUE_TYPE', `'${k('rope.scaling.factor')}' = ${factor} gives no usable frequency scale`);
  const attn_factor_key = metaF32(file, k('rope.scaling.attn_factor'), 1);
  const n_ctx_orig = metaU32(file, k('rope.scaling.original_context_length'), 0) || n_ctx_train;

  // hparams defaults; only grok reads the YaRN keys from the file (src/models/grok.cpp)
  let ext_factor = -1;
  let yarn_attn_factor = 1;
  let beta_fast = 32;
  let beta_slow = 1;
  if (arch === 'grok') {
    beta_fast = 8;
    ext_factor = metaF32(file, k('rope.scaling.yarn_ext_factor'), -1);
    yarn_attn_factor = metaF32(file, k('rope.scaling.yarn_attn_factor'), 1);
    beta_fast = metaF32(file, k('rope.scaling.yarn_beta_fast'), beta_fast);
    beta_slow = metaF32(file, k('rope.scaling.yarn_beta_slow'), beta_slow);
  }
  // llama_context: a negative ext_factor means "not set"
  if (ext_factor < 0) ext_factor = type === 'yarn' ? 1 : 0;
  if (ext_factor !== 0) {
    const scale = f(1 / freq_scale);
    yarn_attn_factor = mscaleOf(scale, 1);
    // the mscale ggml's rope_yarn multiplies in again is cancelled here
    yarn_attn_factor = f(yarn_attn_factor * f(1 / f(1 + f(f(0.1) * f(Math.log(scale))))));
  }
  const attn_factor = f(yarn_attn_factor * attn_factor_key);
  return { type, attn_factor_key, scaling: { freq_base, freq_scale, attn_factor, ext_factor, beta_fast, beta_slow, n_ctx_orig } };
}

/** ggml_rope_yarn_corr_dims: the first and last pair index of YaRN's ramp, [low, high]. */
export function yarnCorrDims(nRot: number, nCtxOrig: number, freqBase: number, betaFast: number, betaSlow: number): [number, number] {
  const dim = (beta: number) => f(f(nRot * f(Math.log(f(nCtxOrig / f(f(beta * 2) * f(Math.PI)))))) / f(2 * f(Math.log(freqBase))));
  const start = Math.floor(dim(betaFast));
  const end = Math.ceil(dim(betaSlow));
  return [Math.max(0, start), Math.min(nRot - 1, end)];
}

/** ggml's rope_yarn_ramp for pair i: 1 below `low`, 0 above `high`, linear between. */
export function yarnRamp(low: number, high: number, i: number): number {
  const y = f(f(i - low) / Math.max(f(0.001), f(high - low)));
  return f(1 - Math.min(1, Math.max(0, y)));
}

/** The factor ggml_rope_ext multiplies cos and sin by: attn_factor, times YaRN's mscale when YaRN is on. */
export function ropeMscale(s: RopeScaling): number {
  return s.ext_factor !== 0 ? f(s.attn_factor * f(1 + f(f(0.1) * f(Math.log(f(1 / s.freq_scale)))))) : s.attn_factor;
}
