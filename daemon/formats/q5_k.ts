/**
 * Q5_K: 176 bytes per super-block of 256 values = 8 sub-blocks of 32.
 *   bytes 0–1     f16 d      super-block scale of the sub-block scales
 *   bytes 2–3     f16 dmin   super-block scale of the sub-block mins
 *   bytes 4–15    scales[12] 8 six-bit scales and 8 six-bit mins, packed as in Q4_K (k-scales.ts)
 *   bytes 16–47   qh[32]     5th bits: bit s of byte 16 + l is the 5th bit (value 16) of value 32s + l
 *   bytes 48–175  qs[128]    low 4 bits: for c = 0..3, byte 48 + 32c + l holds value 64c + l (low nibble,
 *                            sub-block 2c) and value 64c + 32 + l (high nibble, sub-block 2c+1)
 *   x = (d·sc[s]) · q − dmin·m[s],  q ∈ 0..31   (products exact in f32; only the subtraction rounds)
 * Activations: Q8_K (ggml-cpu's vec_dot_type).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { readF16 } from './block-io.js';
import type { TensorFormat } from './format.js';
import { copyBytes, pack1Bits, packNibbles } from './gpu-order.js';
import { scaleMinK4 } from './k-scales.js';

export const Q5_K: TensorFormat = {
  type: GgmlType.Q5_K,
  name: 'Q5_K',
  blockSize: 256,
  typeSize: 176,
  activation: 'q8_K',
  dequantize(src, nb, dst, o) {
    const sm = [0, 0];
    for (let i = 0; i < nb; i++) {
      const b = i * 176;
      const d = readF16(src, b);
      const dmin = readF16(src, b + 2);
      for (let c = 0; c < 4; c++) {
        scaleMinK4(src, b + 4, 2 * c, sm);
        const d1 = d * sm[0]!;
        const m1 = dmin * sm[1]!;
        scaleMinK4(src, b + 4, 2 * c + 1, sm);
        const d2 = d * sm[0]!;
        const m2 = dmin * sm[1]!;
        const y = o + i * 256 + 64 * c;
        const q = b + 48 + 32 * c;
        const lo = 1 << (2 * c);
        const hi = 2 << (2 * c);
        for (let l = 0; l < 32; l++) {
          const h = src[b + 16 + l]!;
          dst[y + l] = d1 * ((src[q + l]! & 0x0f) + (h & lo ? 16 : 0)) - m1;
          dst[y + 32 + l] = d2 * ((src[q + l]! >>> 4) + (h & hi ? 16 : 0)) - m2;
        }
      }
    }
  },
  /**
   * GPU layout: one plane of 176 bytes = eleven vec4 words: the 16 header bytes as in the file, sub-block c's
   * low nibbles in Q4_0's order at bytes 16 + 16c, then its 32 fifth bits as one word at 144 + 4c
   * (gpu-order.ts packNibbles, pack1Bits).
   */
  gpuReorder(src, s, dst, d) {
    copyBytes(src, s, 16, dst, d);
    for (let c = 0; c < 8; c++) {
      packNibbles(src, s + 48 + 32 * (c >>> 1), 4 * (c & 1), dst, d + 16 + 16 * c);
      pack1Bits(src, s + 16, c, dst, d + 144 + 4 * c);
    }
  },
  wgsl: 'q5_k',
  cpu: 'q5_K',
};
