/**
 * Q6_K: 210 bytes per super-block of 256 values = 16 sub-blocks of 16.
 *   bytes 0–127    ql[128]    low 4 bits of the quants
 *   bytes 128–191  qh[64]     high 2 bits of the quants
 *   bytes 192–207  scales[16] int8 (signed!) scale of each sub-block of 16
 *   bytes 208–209  f16 d      super-block scale
 * For half h = 0, 1 (values 128h ..), with L = ql + 64h, H = qh + 32h, and l = 0..31:
 *   value 128h +      l  = (L[l]    & 15) | ((H[l] >> 0) & 3) << 4
 *   value 128h + 32 + l  = (L[l+32] & 15) | ((H[l] >> 2) & 3) << 4
 *   value 128h + 64 + l  = (L[l]    >> 4) | ((H[l] >> 4) & 3) << 4
 *   value 128h + 96 + l  = (L[l+32] >> 4) | ((H[l] >> 6) & 3) << 4
 *   x = (d · scales[s]) · (q − 32),  q ∈ 0..63, s = value index / 16   (both products exact in f32)
 * Activations: Q8_K (ggml-cpu's vec_dot_type).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { readF16 } from './block-io.js';
import type { TensorFormat } from './format.js';
import { copyBytes, pack2Bits, packNibbles } from './gpu-order.js';

export const Q6_K: TensorFormat = {
  type: GgmlType.Q6_K,
  name: 'Q6_K',
  blockSize: 256,
  typeSize: 210,
  activation: 'q8_K',
  dequantize(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) {
      const b = i * 210;
      const d = readF16(src, b + 208);
      for (let h = 0; h < 2; h++) {
        const ql = b + 64 * h;
        const qh = b + 128 + 32 * h;
        const sc = b + 192 + 8 * h;
        const y = o + i * 256 + 128 * h;
        for (let l = 0; l < 32; l++) {
          const is = l >>> 4;
          const hb = src[qh + l]!;
          const q1 = ((src[ql + l]! & 0x0f) | ((hb & 3) << 4)) - 32;
          const q2 = ((src[ql + l + 32]! & 0x0f) | (((hb >>> 2) & 3) << 4)) - 32;
          const q3 = ((src[ql + l]! >>> 4) | (((hb >>> 4) & 3) << 4)) - 32;
          const q4 = ((src[ql + l + 32]! >>> 4) | (((hb >>> 6) & 3) << 4)) - 32;
          dst[y + l] = d * ((src[sc + is]! << 24) >> 24) * q1;
          dst[y + l + 32] = d * ((src[sc + is + 2]! << 24) >> 24) * q2;
          dst[y + l + 64] = d * ((src[sc + is + 4]! << 24) >> 24) * q3;
          dst[y + l + 96] = d * ((src[sc + is + 6]! << 24) >> 24) * q4;
        }
      }
    }
  },
  /**
   * GPU layout: chunk c (values 32c ..) gets its low nibbles in Q4_0's order at bytes 16c and its high
   * 2-bit pairs at 128 + 8c (gpu-order.ts packNibbles, pack2Bits); the scales stay at 192 and d at 208.
   * Planes: those 208 bytes (13 vec4 words per block), then d, two blocks per word.
   */
  gpuReorder(src, s, dst, d) {
    for (let c = 0; c < 8; c++) {
      const h = c >>> 2;
      const k = c & 3;
      packNibbles(src, s + 64 * h + 32 * (k & 1), 4 * (k >>> 1), dst, d + 16 * c);
      pack2Bits(src, s + 128 + 32 * h, 2 * k, dst, d + 128 + 8 * c);
    }
    copyBytes(src, s + 192, 18, dst, d + 192);
  },
  gpuPlanes: [{ from: 0, bytes: 208 }, { from: 208, bytes: 2 }],
  wgsl: 'q6_k',
  cpu: 'q6_K',
};
