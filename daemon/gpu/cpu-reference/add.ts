/**
 * CPU reference of shaders/add.wgsl: the residual add (ggml_add, with ggml_scale on src first when the
 * architecture scales residuals): dst[i] + scale · src[i] over n_tokens rows of n, float64.
 */
export function addRef(dst: ArrayLike<number>, src: ArrayLike<number>, scale: number, count: number): Float64Array {
  const out = Float64Array.from(dst as ArrayLike<number>);
  for (let i = 0; i < count; i++) out[i] = dst[i]! + scale * src[i]!;
  return out;
}

/** dst[t, i] + sigmoid(gate[t]) · src[t, i] over `count` values of rows of `n` (float64). */
export function addGatedRef(dst: ArrayLike<number>, src: ArrayLike<number>, gate: ArrayLike<number>, n: number, count: number): Float64Array {
  const y = Float64Array.from(dst);
  for (let i = 0; i < count; i++) y[i] = dst[i]! + src[i]! / (1 + Math.exp(-gate[Math.floor(i / n)]!));
  return y;
}
