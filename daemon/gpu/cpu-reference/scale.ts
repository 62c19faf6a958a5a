/**
 * CPU reference of shaders/scale.wgsl: ggml_scale in place over the first `count` values
 * (rows · n: the step's token rows times rows_per_token in mode 0, its logits rows in mode 1); the rest are unchanged.
 */
export function scaleRef(buf: ArrayLike<number>, scale: number, count: number): Float64Array {
  const out = Float64Array.from(buf as ArrayLike<number>);
  for (let i = 0; i < count; i++) out[i] = buf[i]! * scale;
  return out;
}
