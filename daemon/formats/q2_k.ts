/**
 * Q2_K: 84 bytes per super-block of 256 values = 16 sub-blocks of 16.
 *   bytes 0–15   scales[16] sub-block s: low nibble = its scale sc[s], high nibble = its min m[s] (0..15)
 *   bytes 16–79  qs[64]     2-bit quants: value i (0..255) is bits 2j..2j+1 of byte 16 + 32h + l,
 *                           where h = i >> 7, j = (i >> 5) & 3, l = i & 31
 *   bytes 80–81  f16 d      super-block scale of the sub-block scales
 *   bytes 82–83  f16 dmin   super-block scale of the sub-block mins
 *   x = (d·sc[s]) · q − dmin·m[s],  q ∈ 0..3, s = i >> 4   (products exact in f32; the subtraction rounds)
 * Activations: Q8_K (ggml-cpu's vec_dot_type).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { readF16 } from './block-io.js';
import type { TensorFormat } from './format.js';
import { copyBytes, pack2Bits } from './gpu-order.js';

export const Q2_K: TensorFormat = {
  type: GgmlType.Q2_K,
  name: 'Q2_K',
  blockSize: 256,
  typeSize: 84,
  activation: 'q8_K',
  dequantize(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) {
      const b = i * 84;
      const d = readF16(src, b + 80);
      const dmin = readF16(src, b + 82);
      for (let v = 0; v < 256; v += 16) {
        const sc = src[b + (v >>> 4)]!;
        const dl = d * (sc & 0x0f);
        const ml = dmin * (sc >>> 4);
        const shift = 2 * ((v >>> 5) & 3);
        const q = b + 16 + 32 * (v >>> 7) + (v & 31);
        const y = o + i * 256 + v;
        for (let l = 0; l < 16; l++) dst[y + l] = dl * ((src[q + l]! >>> shift) & 3) - ml;
      }
    }
  },
  /**
   * GPU layout: the scales at 0 as in the file, then chunk c's (values 32c ..) 2-bit quants at 16 + 8c
   * (gpu-order.ts pack2Bits), d and dmin at 80. Planes: the 80 bytes (five vec4 words per block), then d and
   * dmin (one word).
   */
  gpuReorder(src, s, dst, d) {
    copyBytes(src, s, 16, dst, d);
    for (let c = 0; c < 8; c++) pack2Bits(src, s + 16 + 32 * (c >>> 2), 2 * (c & 3), dst, d + 16 + 8 * c);
    copyBytes(src, s + 80, 4, dst, d + 80);
  },
  gpuPlanes: [{ from: 0, bytes: 80 }, { from: 80, bytes: 4 }],
  wgsl: 'q2_k',
  cpu: 'q2_K',
};
