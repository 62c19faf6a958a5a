/** Little-endian field reads and writes shared by the block formats (f16 scales, u16/u32 bit fields). */
import { f16ToF32Table, f32ToF16Bits } from './half.js';

/** The f16 at byte `at` of `src`, as an f32 value (subnormals included). */
export function readF16(src: Uint8Array, at: number): number {
  return f16ToF32Table()[src[at]! | (src[at + 1]! << 8)]!;
}

/** Stores `v` rounded to f16 (round to nearest even) at byte `at`. */
export function writeF16(dst: Uint8Array, at: number, v: number): void {
  const h = f32ToF16Bits(v);
  dst[at] = h & 0xff;
  dst[at + 1] = h >>> 8;
}

/** The unsigned 32-bit little-endian word at byte `at`. */
export function readU32(src: Uint8Array, at: number): number {
  return (src[at]! | (src[at + 1]! << 8) | (src[at + 2]! << 16) | (src[at + 3]! << 24)) >>> 0;
}

export function writeU32(dst: Uint8Array, at: number, v: number): void {
  dst[at] = v & 0xff;
  dst[at + 1] = (v >>> 8) & 0xff;
  dst[at + 2] = (v >>> 16) & 0xff;
  dst[at + 3] = (v >>> 24) & 0xff;
}

/**
 * C's (int8_t)(float) / (uint8_t)(float) as x86 compilers emit it: cvttss2si (truncation toward zero; NaN,
 * ±∞ and values out of int32 range give INT32_MIN), then the low byte. Only reachable in ggml's reference
 * quantizers on degenerate blocks (f32-subnormal values, where 1/d overflows to ∞).
 */
export function truncToInt8(v: number): number {
  const i = Number.isFinite(v) && Math.abs(v) < 2147483648 ? Math.trunc(v) : -2147483648;
  return (i << 24) >> 24;
}

const FLT_MAX = 3.4028234663852886e38;

/**
 * The affine (scale + min) quantisers' block range, as ggml's quantize_row_q4_1_ref / q5_1_ref compute it:
 * min and max of `src[base, base + n)` starting from ±FLT_MAX (NaN values are skipped by the comparisons),
 * then d = (max − min) / levels in f32 and id = 1/d (0 when d = 0).
 */
export function affineBlockRange(src: Float32Array, base: number, n: number, levels: number): { min: number; d: number; id: number } {
  let min = FLT_MAX;
  let max = -FLT_MAX;
  for (let j = 0; j < n; j++) {
    const v = src[base + j]!;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const d = Math.fround(Math.fround(max - min) / levels);
  return { min, d, id: d !== 0 ? Math.fround(1 / d) : 0 };
}
