/**
 * Q4_K: 144 bytes per super-block of 256 values = 8 sub-blocks of 32.
 *   bytes 0–1     f16 d      super-block scale of the sub-block scales
 *   bytes 2–3     f16 dmin   super-block scale of the sub-block mins
 *   bytes 4–15    scales[12] 8 six-bit scales sc[s] and 8 six-bit mins m[s], packed (k-scales.ts)
 *   bytes 16–143  qs[128]    4-bit quants: for c = 0..3, byte 16 + 32c + l holds value 64c + l in its low
 *                            nibble (sub-block 2c) and value 64c + 32 + l in its high nibble (sub-block 2c+1)
 *   x = (d·sc[s]) · q − dmin·m[s],  q ∈ 0..15, s = sub-block
 * (d·sc, dmin·m and (d·sc)·q are exact in f32; only the subtraction rounds.)
 * Activations: Q8_K (ggml-cpu's vec_dot_type). The dot product uses the activation's per-16 sums (bsums)
 * for the min term, which equal the sums of its dequantised values exactly (Q8_K's d is an f32).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { readF16 } from './block-io.js';
import type { TensorFormat } from './format.js';
import { copyBytes, packNibbles } from './gpu-order.js';
import { scaleMinK4 } from './k-scales.js';

export const Q4_K: TensorFormat = {
  type: GgmlType.Q4_K,
  name: 'Q4_K',
  blockSize: 256,
  typeSize: 144,
  activation: 'q8_K',
  dequantize(src, nb, dst, o) {
    const sm = [0, 0];
    for (let i = 0; i < nb; i++) {
      const b = i * 144;
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
        const q = b + 16 + 32 * c;
        for (let l = 0; l < 32; l++) {
          dst[y + l] = d1 * (src[q + l]! & 0x0f) - m1;
          dst[y + 32 + l] = d2 * (src[q + l]! >>> 4) - m2;
        }
      }
    }
  },
  /**
   * GPU layout: one plane of 144 bytes = nine vec4 words: the 16 header bytes as in the file, then sub-block
   * c's 32 nibbles in Q4_0's order at bytes 16 + 16c (gpu-order.ts packNibbles): one vec4 word per chunk.
   */
  gpuReorder(src, s, dst, d) {
    copyBytes(src, s, 16, dst, d);
    for (let c = 0; c < 8; c++) packNibbles(src, s + 16 + 32 * (c >>> 1), 4 * (c & 1), dst, d + 16 + 16 * c);
  },
  wgsl: 'q4_k',
  cpu: 'q4_K',
};
