/**
 * IQ4_XS: 136 bytes per super-block of 256 values = 8 sub-blocks of 32, on IQ4_NL's non-linear grid.
 *   bytes 0–1    f16 d        super-block scale (often an f16 subnormal: ggml decodes those exactly)
 *   bytes 2–3    scales_h     u16 little endian: bits 2s..2s+1 = the top 2 bits of sub-block s's scale
 *   bytes 4–7    scales_l[4]  the low 4 bits: sub-block s in byte 4 + s/2, low nibble for even s, high for odd
 *   bytes 8–135  qs[128]      for sub-block s, byte 8 + 16s + j holds the grid index of value 32s + j
 *                             (low nibble) and of value 32s + 16 + j (high nibble)
 *   ls = scale_l | scale_h << 4 ∈ 0..63;  x = (d · (ls − 32)) · IQ4_VALUES[index]   (exact in f32)
 * Activations: Q8_K (ggml-cpu's vec_dot_type).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { readF16 } from './block-io.js';
import type { TensorFormat } from './format.js';
import { IQ4_VALUES } from './iq4_nl.js';

export const IQ4_XS: TensorFormat = {
  type: GgmlType.IQ4_XS,
  name: 'IQ4_XS',
  blockSize: 256,
  typeSize: 136,
  activation: 'q8_K',
  dequantize(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) {
      const b = i * 136;
      const d = readF16(src, b);
      const scalesH = src[b + 2]! | (src[b + 3]! << 8);
      for (let s = 0; s < 8; s++) {
        const ls = ((src[b + 4 + (s >>> 1)]! >>> (4 * (s & 1))) & 0x0f) | (((scalesH >>> (2 * s)) & 3) << 4);
        const dl = d * (ls - 32);
        const q = b + 8 + 16 * s;
        const y = o + i * 256 + 32 * s;
        for (let j = 0; j < 16; j++) {
          dst[y + j] = dl * IQ4_VALUES[src[q + j]! & 0x0f]!;
          dst[y + j + 16] = dl * IQ4_VALUES[src[q + j]! >>> 4]!;
        }
      }
    }
  },
  /** GPU layout: grid indices (eight vec4 words per block), then d, scales_h and scales_l (two words). */
  gpuPlanes: [{ from: 8, bytes: 128 }, { from: 0, bytes: 8 }],
  wgsl: 'iq4_xs',
  cpu: 'iq4_xs',
};
