/**
 * cos/sin table for RoPE, [n_ctx, n_rot / 2] pairs, read by both backends' rope kernels. Angles follow
 * ggml's CPU backend (ggml_rope_cache_init / rope_yarn) exactly: theta starts at pos and is multiplied by
 * theta_scale = base^(-2 / n_rot) in f32 once per pair; theta_extrap = theta / freq_factor_i (rope_freqs,
 * Llama 3.x), theta_interp = freq_scale · theta_extrap; with YaRN (ext_factor ≠ 0) the two are mixed by
 * the ramp over the correction dims (rope-scaling.ts), all in f32, so the backends match llama.cpp's
 * rounding. cos and sin are taken in float64, times the attention factor (with YaRN's mscale), and
 * stored as f32.
 */
import { ropeMscale, yarnCorrDims, yarnRamp, type RopeScaling } from './rope-scaling.js';

export type { RopeScaling } from './rope-scaling.js';

const f = Math.fround;

export function ropeTable(nCtx: number, nRot: number, s: RopeScaling, freqFactors?: ArrayLike<number> | null): Float32Array<ArrayBuffer> {
  const half = nRot / 2;
  if (freqFactors && freqFactors.length < half) throw new Error(`rope_freqs holds ${freqFactors.length} factors, RoPE needs ${half}`);
  const out = new Float32Array(nCtx * half * 2);
  const thetaScale = f(Math.pow(s.freq_base, f(-2 / nRot))); // powf(base, -2.0f / n_rot)
  const yarn = s.ext_factor !== 0;
  const [low, high] = yarn ? yarnCorrDims(nRot, s.n_ctx_orig, s.freq_base, s.beta_fast, s.beta_slow) : [0, 0];
  const mix = Float32Array.from({ length: half }, (_, i) => (yarn ? f(yarnRamp(low, high, i) * s.ext_factor) : 0));
  const mscale = ropeMscale(s);
  for (let pos = 0; pos < nCtx; pos++) {
    let theta = f(pos);
    for (let i = 0; i < half; i++) {
      const extrap = freqFactors ? f(theta / f(freqFactors[i]!)) : theta;
      const interp = f(s.freq_scale * extrap);
      const angle = yarn ? f(f(interp * f(1 - mix[i]!)) + f(extrap * mix[i]!)) : interp;
      out[(pos * half + i) * 2] = Math.cos(angle) * mscale;
      out[(pos * half + i) * 2 + 1] = Math.sin(angle) * mscale;
      theta = f(theta * thetaScale);
    }
  }
  return out;
}
