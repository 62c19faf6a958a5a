/** IEEE half (f16) and bfloat16 conversions with ggml's rounding, and a half → f32 lookup table. */

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** f32 → IEEE half bits with round-to-nearest-even (ggml's GGML_FP32_TO_FP16 / F16C `vcvtps2ph` rounding). */
export function f32ToF16Bits(v: number): number {
  f32Scratch[0] = v;
  const x = u32Scratch[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 : sign | 0x7c00; // NaN → canonical quiet NaN (as ggml), ±inf
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00; // overflow → ±inf
  if (e <= 0) {
    // half subnormal: value / 2^-24, rounded to nearest even
    const shift = 14 - e;
    if (shift > 24) return sign; // below half of the smallest subnormal
    const m = mant | 0x800000;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rem > halfway || (rem === halfway && (h & 1) !== 0)) h++;
    return sign | h; // a carry into bit 10 correctly gives the smallest normal
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // carry may round up to inf: correct
  return sign | h;
}

/** IEEE half bits → f32 value (exact, subnormals included). */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** f32 rounded through f16 and back (what storing a value as f16 does to it). */
export function roundToF16(v: number): number {
  return f16BitsToF32(f32ToF16Bits(v));
}

let f16Table: Float32Array | undefined;
/** Half → f32 for all 65536 bit patterns (built on first use; bulk dequantisation reads it). */
export function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = f16BitsToF32(i);
  }
  return f16Table;
}

/** bf16 bits → f32 (the high half of an f32). */
export function bf16BitsToF32(h: number): number {
  u32Scratch[0] = (h & 0xffff) << 16;
  return f32Scratch[0]!;
}

/** f32 → bf16 bits, round to nearest even; NaN stays a quiet NaN (ggml's GGML_FP32_TO_BF16). */
export function f32ToBf16Bits(v: number): number {
  f32Scratch[0] = v;
  const u = u32Scratch[0]!;
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) | 64) & 0xffff; // force quiet NaN
  return ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16) & 0xffff;
}
