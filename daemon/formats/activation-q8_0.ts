/**
 * Q8_0 activations as ggml-cpu's x86 quantize_row_q8_0 (AVX/AVX2; the AVX-512 builds run the same code)
 * produces them — 34 bytes per block of 32:
 *   bytes 0–1   f16 d = f16(amax / 127)     (amax = max |x| over the block, f32 division)
 *   bytes 2–33  int8 q[32] = round_half_even(x · id),  id = 127 / amax (f32; 0 when amax = 0)
 * The dot products see q · f16(d).
 *
 * This differs from quantize_row_q8_0_ref (q8_0.ts, what the GGUF writer uses for weights) in two last-place
 * ways: the reference multiplies by id = 1/d (not 127/amax) and rounds halves away from zero.
 * The repacked Q4_0 / IQ4_NL / MXFP4 paths quantize with ggml_quantize_mat_q8_0_4x8, the same arithmetic.
 */
import type { ActivationCodec } from './activation.js';
import { readF16, writeF16 } from './block-io.js';

const fr = Math.fround;

/** Round half to even (SSE/AVX _mm256_round_ps with _MM_ROUND_NEAREST). */
export function roundHalfEven(v: number): number {
  const r = Math.round(v); // halves up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * _mm256_round_ps(v, nearest) → _mm256_cvtps_epi32 → packs to int8, as int: round half to even, then
 * saturate to −128..127; NaN, ±∞ and values beyond int32 become INT32_MIN first, hence −128 (only reachable
 * for f32-subnormal blocks, where 127/amax overflows).
 */
export function x86RoundToInt32(v: number): number {
  return Number.isFinite(v) && Math.abs(v) < 2147483648 ? roundHalfEven(v) : -2147483648;
}

export function saturateInt8(i: number): number {
  return Math.max(-128, Math.min(127, i));
}

/** amax / 127 and 127 / amax as the x86 code computes them (f32). */
export function q8Scales(src: Float32Array, from: number): { amax: number; d: number; id: number } {
  let amax = 0;
  for (let j = 0; j < 32; j++) {
    const a = Math.abs(src[from + j]!);
    if (a > amax) amax = a;
  }
  return { amax, d: fr(amax / 127), id: amax !== 0 ? fr(127 / amax) : 0 };
}

export const ACT_Q8_0: ActivationCodec = {
  format: 'q8_0',
  blockSize: 32,
  typeSize: 34,
  hasBlockSums: false,
  quantize(src, dst, o) {
    for (let i = 0; i < src.length / 32; i++) {
      const { d, id } = q8Scales(src, 32 * i);
      const b = o + 34 * i;
      writeF16(dst, b, d);
      for (let j = 0; j < 32; j++) dst[b + 2 + j] = saturateInt8(x86RoundToInt32(fr(src[32 * i + j]! * id))) & 0xff;
    }
  },
  decode(src, n, values) {
    for (let i = 0; i < n / 32; i++) {
      const d = readF16(src, 34 * i);
      for (let j = 0; j < 32; j++) values[32 * i + j] = ((src[34 * i + 2 + j]! << 24) >> 24) * d;
    }
  },
};
