/**
 * Float activation formats: f32 (as is), f16 (GGML_CPU_FP32_TO_FP16: F16C `vcvtps2ph`, round to nearest
 * even) and bf16 (ggml_cpu_fp32_to_bf16: GGML_FP32_TO_BF16, round to nearest even, NaN kept quiet).
 * Layouts: little-endian f32 / IEEE half / bfloat16 per value.
 */
import type { ActivationCodec } from './activation.js';
import { bf16BitsToF32, f16ToF32Table, f32ToBf16Bits, f32ToF16Bits } from './half.js';

export const ACT_F32: ActivationCodec = {
  format: 'f32',
  blockSize: 1,
  typeSize: 4,
  hasBlockSums: false,
  quantize(src, dst, o) {
    new Float32Array(dst.buffer, dst.byteOffset + o, src.length).set(src);
  },
  decode(src, n, values) {
    const dv = new DataView(src.buffer, src.byteOffset, n * 4);
    for (let i = 0; i < n; i++) values[i] = dv.getFloat32(4 * i, true);
  },
};

export const ACT_F16: ActivationCodec = {
  format: 'f16',
  blockSize: 1,
  typeSize: 2,
  hasBlockSums: false,
  quantize(src, dst, o) {
    for (let i = 0; i < src.length; i++) {
      const h = f32ToF16Bits(src[i]!);
      dst[o + 2 * i] = h & 0xff;
      dst[o + 2 * i + 1] = h >>> 8;
    }
  },
  decode(src, n, values) {
    const t = f16ToF32Table();
    for (let i = 0; i < n; i++) values[i] = t[src[2 * i]! | (src[2 * i + 1]! << 8)]!;
  },
};

export const ACT_BF16: ActivationCodec = {
  format: 'bf16',
  blockSize: 1,
  typeSize: 2,
  hasBlockSums: false,
  quantize(src, dst, o) {
    for (let i = 0; i < src.length; i++) {
      const h = f32ToBf16Bits(src[i]!);
      dst[o + 2 * i] = h & 0xff;
      dst[o + 2 * i + 1] = h >>> 8;
    }
  },
  decode(src, n, values) {
    for (let i = 0; i < n; i++) values[i] = bf16BitsToF32(src[2 * i]! | (src[2 * i + 1]! << 8));
  },
};
