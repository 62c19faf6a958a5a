/**
 * CPU reference of shaders/add.wgsl: the residual add (ggml_add, with ggml_scale on src first when the
 * architecture scales residuals): dst[i] + scale · src[i] over n_tokens rows of n, float64.
 */
export function addRef(dst: ArrayLike<number>, src: ArrayLike<number>, scale: number, count: number): Float64Array {
  const out = Float64Array.from(dst as ArrayLike<number>);
  for (let i = 0; i < count; i++) out[i] = dst[i]! + scale * src[i]!;
  return out;
}
