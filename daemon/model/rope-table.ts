/**
 * cos/sin table for RoPE, [n_ctx, n_rot / 2] pairs. Angles follow ggml's CPU backend exactly: theta starts
 * at pos * freq_scale and is multiplied by theta_scale = base^(-2 / n_rot) in f32 once per pair, so the
 * GPU result matches llama.cpp's rounding; cos and sin are taken in float64, times the attention factor
 * (rope_attn_factor), and stored as f32.
 */
export function ropeTable(nCtx: number, nRot: number, freqBase: number, freqScale: number, attnFactor = 1): Float32Array<ArrayBuffer> {
  const half = nRot / 2;
  const out = new Float32Array(nCtx * half * 2);
  const thetaScale = Math.fround(Math.pow(freqBase, Math.fround(-2 / nRot))); // powf(base, -2.0f / n_rot)
  for (let pos = 0; pos < nCtx; pos++) {
    let theta = Math.fround(pos);
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(freqScale * theta);
      out[(pos * half + i) * 2] = Math.cos(angle) * attnFactor;
      out[(pos * half + i) * 2 + 1] = Math.sin(angle) * attnFactor;
      theta = Math.fround(theta * thetaScale);
    }
  }
  return out;
}
