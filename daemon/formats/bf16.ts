/**
 * BF16: bfloat16, 2 bytes per value (the high half of an f32, little endian): x = f32(bits << 16).
 * Activations: BF16 (ggml-cpu's vec_dot_type for BF16): rounded to bf16, nearest even, before the dot
 * products. Quantisation: ggml's GGML_FP32_TO_BF16 (round to nearest even; NaN stays a quiet NaN).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import type { TensorFormat } from './format.js';
import { bf16BitsToF32, f32ToBf16Bits } from './half.js';

export const BF16: TensorFormat = {
  type: GgmlType.BF16,
  name: 'BF16',
  blockSize: 1,
  typeSize: 2,
  activation: 'bf16',
  dequantize(src, n, dst, o) {
    for (let i = 0; i < n; i++) dst[o + i] = bf16BitsToF32(src[2 * i]! | (src[2 * i + 1]! << 8));
  },
  /** ggml_fp32_to_bf16_row_ref. */
  quantize(src, dst, o) {
    for (let i = 0; i < src.length; i++) {
      const h = f32ToBf16Bits(src[i]!);
      dst[o + 2 * i] = h & 0xff;
      dst[o + 2 * i + 1] = h >>> 8;
    }
  },
  // GPU layout: as in the file, two values per word.
  wgsl: 'bf16',
  cpu: 'bf16',
};
