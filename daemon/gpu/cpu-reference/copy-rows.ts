import { roundToF16 } from '../../formats/half.js';

/**
 * CPU reference of shaders/copy_rows.wgsl: the V-cache write (ggml_cpy of the new V rows into the cache
 * view). Rows of dst [rows, n] at kv_base + pos_start + t become src[t, :] (rounded to f16, nearest even,
 * for an f16 cache); the rest are unchanged.
 */
export function copyRowsRef(src: ArrayLike<number>, dst: ArrayLike<number>, n: number, n_tokens: number, pos_start: number, kv_base: number, f16 = false): Float64Array {
  const out = Float64Array.from(dst as ArrayLike<number>);
  const first = (kv_base + pos_start) * n;
  if (first + n_tokens * n > out.length) throw new Error('copyRowsRef: rows fall past the end of dst');
  for (let i = 0; i < n_tokens * n; i++) out[first + i] = f16 ? roundToF16(src[i]!) : src[i]!;
  return out;
}
