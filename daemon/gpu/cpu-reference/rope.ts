/**
 * CPU reference of shaders/rope.wgsl with the cos/sin table of model/rope-table.ts: ggml_rope_ext as
 * ggml-cpu computes it (ops.cpp ggml_rope_cache_init / rope_yarn / rotate_pairs): theta_scale =
 * powf(freq_base, -2/n_rot) in f32, theta_i built by repeated f32 multiplication from the position,
 * divided by freq_factors[i] (rope_freqs) when given, angle = freq_scale · theta_i; with YaRN (ext_factor
 * ≠ 0) the angle mixes theta_i and freq_scale · theta_i by the ramp over ggml_rope_yarn_corr_dims and
 * cos/sin gain the mscale 1 + 0.1·ln(1/freq_scale); cos/sin times attn_factor. Angles follow ggml's f32
 * steps; the rotation itself is evaluated in float64.
 *   NORM (mode 0, llama):    pairs (2i, 2i+1)
 *   NEOX (mode 2, qwen/...): pairs (i, i + n_rot/2)
 * Dimensions >= n_rot pass through unchanged.
 */

import { roundToF16 } from '../../formats/half.js';

export type RopeModeRef = 'norm' | 'neox';

export interface RopeRefParams {
  n_head: number;
  head_dim: number;
  n_rot: number;
  mode: RopeModeRef;
  freq_base: number;
  freq_scale?: number;
  attn_factor?: number;
  /** rope_freqs: theta_i divided by factors[i]. */
  factors?: ArrayLike<number>;
  /** YaRN: ext_factor (0 or absent: off), beta_fast, beta_slow, the original context length. */
  yarn?: { ext_factor: number; beta_fast: number; beta_slow: number; n_ctx_orig: number };
}

const f = Math.fround;

/** ggml_rope_yarn_corr_dim: the pair index where `beta` rotations fit in n_ctx_orig positions (f32). */
function corrDim(n_rot: number, n_ctx_orig: number, beta: number, base: number): number {
  return f(f(n_rot * f(Math.log(f(n_ctx_orig / f(f(beta * 2) * f(Math.PI)))))) / f(2 * f(Math.log(base))));
}

/** The n_rot/2 rotation angles at position `pos`, rounded as ggml-cpu rounds them. */
export function ropeAnglesRef(pos: number, n_rot: number, freq_base: number, freq_scale = 1, p: Pick<RopeRefParams, 'factors' | 'yarn'> = {}): Float64Array {
  const thetaScale = f(Math.pow(f(freq_base), f(-2 / n_rot))); // powf(freq_base, -2.0f/n_dims)
  const ext = p.yarn?.ext_factor ?? 0;
  let low = 0;
  let high = 0;
  if (ext !== 0) {
    low = Math.max(0, Math.floor(corrDim(n_rot, p.yarn!.n_ctx_orig, p.yarn!.beta_fast, f(freq_base))));
    high = Math.min(n_rot - 1, Math.ceil(corrDim(n_rot, p.yarn!.n_ctx_orig, p.yarn!.beta_slow, f(freq_base))));
  }
  const out = new Float64Array(n_rot / 2);
  let theta = f(pos);
  for (let i = 0; i < n_rot / 2; i++) {
    const extrap = p.factors ? f(theta / f(p.factors[i]!)) : theta;
    const interp = f(f(freq_scale) * extrap);
    if (ext === 0) out[i] = interp;
    else {
      const y = f(f(i - low) / Math.max(f(0.001), f(high - low)));
      const mix = f(f(1 - Math.min(1, Math.max(0, y))) * ext);
      out[i] = f(f(interp * f(1 - mix)) + f(extrap * mix));
    }
    theta = f(theta * thetaScale);
  }
  return out;
}

/** What cos and sin are multiplied by: attn_factor, times YaRN's 1 + 0.1·ln(1/freq_scale) when it is on. */
export function ropeMscaleRef(p: RopeRefParams): number {
  const a = p.attn_factor ?? 1;
  if (!p.yarn?.ext_factor) return a;
  return f(a * f(1 + f(f(0.1) * f(Math.log(f(1 / (p.freq_scale ?? 1)))))));
}

/** Indices (a, b) of rotation i inside a head. */
function pairOf(mode: RopeModeRef, i: number, n_rot: number): [number, number] {
  return mode === 'norm' ? [2 * i, 2 * i + 1] : [i, i + n_rot / 2];
}

/**
 * Rotates x [n_tokens, n_head, head_dim]; token t sits at position pos_start + t.
 * Returns a new [n_tokens, n_head, head_dim] array.
 */
export function ropeRef(x: ArrayLike<number>, n_tokens: number, pos_start: number, p: RopeRefParams): Float64Array {
  const { n_head, head_dim, n_rot, mode } = p;
  if (n_rot % 2 || n_rot > head_dim) throw new Error(`ropeRef: n_rot ${n_rot} must be even and <= head_dim ${head_dim}`);
  const mscale = ropeMscaleRef(p);
  const y = Float64Array.from({ length: n_tokens * n_head * head_dim }, (_, i) => x[i]!);
  for (let t = 0; t < n_tokens; t++) {
    const angles = ropeAnglesRef(pos_start + t, n_rot, p.freq_base, p.freq_scale ?? 1, p);
    for (let h = 0; h < n_head; h++) {
      const base = (t * n_head + h) * head_dim;
      for (let i = 0; i < n_rot / 2; i++) {
        const c = Math.cos(angles[i]!) * mscale;
        const s = Math.sin(angles[i]!) * mscale;
        const [a, b] = pairOf(mode, i, n_rot);
        const x0 = x[base + a]!;
        const x1 = x[base + b]!;
        y[base + a] = x0 * c - x1 * s;
        y[base + b] = x0 * s + x1 * c;
      }
    }
  }
  return y;
}

/**
 * The K-cache write: rows of `cache` [rows, n_head, head_dim] at kv_base + pos_start + t are replaced by the
 * rotated src rows (each rotated value rounded to f16 for an f16 cache); every other row keeps its value.
 * Returns the new cache.
 */
export function ropeToCacheRef(src: ArrayLike<number>, cache: ArrayLike<number>, n_tokens: number, pos_start: number, kv_base: number, p: RopeRefParams, f16 = false): Float64Array {
  const out = Float64Array.from(cache as ArrayLike<number>);
  const rowLen = p.n_head * p.head_dim;
  const rows = ropeRef(src, n_tokens, pos_start, p);
  out.set(f16 ? rows.map(roundToF16) : rows, (kv_base + pos_start) * rowLen);
  return out;
}
