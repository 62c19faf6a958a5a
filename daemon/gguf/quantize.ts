/**
 * Reference row quantizers / dequantizers with ggml's exact behaviour (ggml/src/ggml-quants.c,
 * `quantize_row_*_ref` / `dequantize_row_*`, and ggml's fp16 conversion), for F32, F16, Q8_0, Q4_0.
 * All intermediate arithmetic is done in float32 (Math.fround) so results match ggml bit for bit.
 *
 * Block layouts (little endian):
 *   Q8_0: 34 bytes per 32 elements = f16 d, int8 qs[32];            x = qs[j] * d
 *   Q4_0: 18 bytes per 32 elements = f16 d, uint8 qs[16];           byte j holds element j in its
 *         low nibble and element j+16 in its high nibble;           x = (nibble - 8) * d
 */
import { GGML_BLOCK, GgmlType, ggmlTypeName } from './ggml-types.js';
import { GgufError } from './gguf-error.js';

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

/** IEEE half bits → f32 value (exact). */
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

// Lookup table for half → float: 65536 entries, built lazily (used by bulk dequantization).
let f16Table: Float32Array | undefined;
function f16ToF32Table(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let i = 0; i < 65536; i++) f16Table[i] = f16BitsToF32(i);
  }
  return f16Table;
}

function blockOf(type: GgmlType, n: number, what: string): { blockSize: number; typeSize: number } {
  const b = GGML_BLOCK[type];
  if (!b || !QUANT_TYPES.includes(type)) {
    throw new GgufError('UNSUPPORTED_TYPE', `${what}: type ${ggmlTypeName(type)} is not supported (supported: ${QUANT_TYPES.map(ggmlTypeName).join(', ')})`);
  }
  if (!Number.isSafeInteger(n) || n < 0 || n % b.blockSize !== 0) {
    throw new GgufError('BAD_ARGUMENT', `${what}: ${n} elements is not a whole number of ${ggmlTypeName(type)} blocks of ${b.blockSize}`);
  }
  return b;
}

/** The types quantizeRow / dequantizeRow handle. */
export const QUANT_TYPES: readonly GgmlType[] = [GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0];

/** Bytes produced by quantizing `n` elements to `type`. */
export function quantizedSize(type: GgmlType, n: number): number {
  const b = blockOf(type, n, 'quantizedSize');
  return (n / b.blockSize) * b.typeSize;
}

/**
 * Quantizes `src` (any whole number of blocks; typically one or more rows) into `dst` starting at byte
 * `dstOffset`. Returns the number of bytes written.
 */
export function quantizeInto(type: GgmlType, src: Float32Array, dst: Uint8Array, dstOffset = 0): number {
  const n = src.length;
  const b = blockOf(type, n, 'quantizeRow');
  const size = (n / b.blockSize) * b.typeSize;
  if (dstOffset + size > dst.length) throw new GgufError('BAD_ARGUMENT', `quantizeRow: destination has ${dst.length - dstOffset} bytes, needs ${size}`);
  const out = dst.subarray(dstOffset, dstOffset + size);
  const dv = new DataView(out.buffer, out.byteOffset, size);
  switch (type) {
    case GgmlType.F32:
      if (LITTLE_ENDIAN) out.set(new Uint8Array(src.buffer, src.byteOffset, n * 4));
      else for (let i = 0; i < n; i++) dv.setFloat32(i * 4, src[i]!, true);
      break;
    case GgmlType.F16:
      quantizeF16(src, out, dv);
      break;
    case GgmlType.Q8_0:
      quantizeQ8_0(src, out, dv);
      break;
    case GgmlType.Q4_0:
      quantizeQ4_0(src, out, dv);
      break;
  }
  return size;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Bulk f32 → f16 (same rounding as f32ToF16Bits, on the raw bits of src). */
function quantizeF16(src: Float32Array, out: Uint8Array, dv: DataView): void {
  const n = src.length;
  const bits = new Uint32Array(src.buffer, src.byteOffset, n);
  const aligned = LITTLE_ENDIAN && out.byteOffset % 2 === 0;
  const h16 = aligned ? new Uint16Array(out.buffer, out.byteOffset, n) : undefined;
  for (let i = 0; i < n; i++) {
    const x = bits[i]!;
    const exp = (x >>> 23) & 0xff;
    let h: number;
    if (exp > 112 && exp < 143) {
      // normal half range, no overflow before rounding: inline fast path
      const mant = x & 0x7fffff;
      h = ((exp - 112) << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++;
      h |= (x >>> 16) & 0x8000;
    } else {
      h = f32ToF16Bits(src[i]!);
    }
    if (h16) h16[i] = h;
    else dv.setUint16(i * 2, h, true);
  }
}

/** Quantizes `src` (a whole number of blocks) to `type`; returns the raw bytes as stored in GGUF. */
export function quantizeRow(type: GgmlType, src: Float32Array): Uint8Array {
  const out = new Uint8Array(quantizedSize(type, src.length));
  quantizeInto(type, src, out, 0);
  return out;
}

function quantizeQ8_0(src: Float32Array, out: Uint8Array, dv: DataView): void {
  const nb = src.length / 32;
  const q = new Int8Array(out.buffer, out.byteOffset, out.length);
  for (let i = 0; i < nb; i++) {
    const base = i * 32;
    let amax = 0;
    for (let j = 0; j < 32; j++) {
      const a = Math.abs(src[base + j]!);
      amax = amax > a ? amax : a; // ggml's MAX(amax, fabsf(v))
    }
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const o = i * 34;
    dv.setUint16(o, f32ToF16Bits(d), true);
    for (let j = 0; j < 32; j++) {
      const x0 = Math.fround(src[base + j]! * id);
      // roundf: half away from zero (x0 is a float32, so x0 ± 0.5 is exact in double); |x0| ≤ 127
      q[o + 2 + j] = x0 < 0 ? -Math.floor(0.5 - x0) : Math.floor(x0 + 0.5);
    }
  }
}

function quantizeQ4_0(src: Float32Array, out: Uint8Array, dv: DataView): void {
  const nb = src.length / 32;
  for (let i = 0; i < nb; i++) {
    const base = i * 32;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < 32; j++) {
      const v = src[base + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const o = i * 18;
    dv.setUint16(o, f32ToF16Bits(d), true);
    for (let j = 0; j < 16; j++) {
      const x0 = Math.fround(src[base + j]! * id);
      const x1 = Math.fround(src[base + 16 + j]! * id);
      // (int8_t)(x + 8.5f) truncates toward zero; x ∈ [-8, 8] so the sum is in [0.5, 16.5]
      const xi0 = Math.min(15, Math.trunc(Math.fround(x0 + 8.5)));
      const xi1 = Math.min(15, Math.trunc(Math.fround(x1 + 8.5)));
      out[o + 2 + j] = (xi0 & 0xf) | ((xi1 & 0xf) << 4);
    }
  }
}

/** Dequantizes `n` elements of `type` from `bytes` (ggml's dequantize_row_* / fp16→fp32). */
export function dequantizeRow(type: GgmlType, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  dequantizeInto(type, bytes, n, out, 0);
  return out;
}

/** Dequantizes `n` elements of `type` from `bytes` into `dst[dstOffset ..]`. */
export function dequantizeInto(type: GgmlType, bytes: Uint8Array, n: number, dst: Float32Array, dstOffset = 0): void {
  const b = blockOf(type, n, 'dequantizeRow');
  const size = (n / b.blockSize) * b.typeSize;
  if (bytes.length < size) throw new GgufError('BAD_ARGUMENT', `dequantizeRow: ${n} ${ggmlTypeName(type)} elements need ${size} bytes, got ${bytes.length}`);
  if (dstOffset + n > dst.length) throw new GgufError('BAD_ARGUMENT', `dequantizeRow: destination has room for ${dst.length - dstOffset} elements, needs ${n}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, size);
  switch (type) {
    case GgmlType.F32:
      for (let i = 0; i < n; i++) dst[dstOffset + i] = dv.getFloat32(i * 4, true);
      break;
    case GgmlType.F16: {
      const t = f16ToF32Table();
      for (let i = 0; i < n; i++) dst[dstOffset + i] = t[dv.getUint16(i * 2, true)]!;
      break;
    }
    case GgmlType.Q8_0: {
      const t = f16ToF32Table();
      for (let i = 0; i < n / 32; i++) {
        const o = i * 34;
        const d = t[dv.getUint16(o, true)]!;
        for (let j = 0; j < 32; j++) dst[dstOffset + i * 32 + j] = dv.getInt8(o + 2 + j) * d;
      }
      break;
    }
    case GgmlType.Q4_0: {
      const t = f16ToF32Table();
      for (let i = 0; i < n / 32; i++) {
        const o = i * 18;
        const d = t[dv.getUint16(o, true)]!;
        for (let j = 0; j < 16; j++) {
          const q = bytes[o + 2 + j]!;
          dst[dstOffset + i * 32 + j] = ((q & 0x0f) - 8) * d;
          dst[dstOffset + i * 32 + j + 16] = ((q >>> 4) - 8) * d;
        }
      }
      break;
    }
  }
}
