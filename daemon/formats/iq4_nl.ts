/**
 * IQ4_NL: 18 bytes per 32 values, a non-linear 4-bit grid.
 *   bytes 0–1   f16 d
 *   bytes 2–17  qs[16]: byte j holds the index of value j (low nibble) and of value j+16 (high nibble)
 *   x = d · IQ4_VALUES[index]   (exact in f32)
 * Activations: Q8_0 (ggml-cpu's vec_dot_type).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { readF16 } from './block-io.js';
import type { TensorFormat } from './format.js';

/** ggml's kvalues_iq4nl: the 16 grid points shared by IQ4_NL and IQ4_XS. */
export const IQ4_VALUES: readonly number[] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113];

export const IQ4_NL: TensorFormat = {
  type: GgmlType.IQ4_NL,
  name: 'IQ4_NL',
  blockSize: 32,
  typeSize: 18,
  activation: 'q8_0',
  dequantize(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) {
      const b = i * 18;
      const d = readF16(src, b);
      const y = o + i * 32;
      for (let j = 0; j < 16; j++) {
        const q = src[b + 2 + j]!;
        dst[y + j] = d * IQ4_VALUES[q & 0x0f]!;
        dst[y + j + 16] = d * IQ4_VALUES[q >>> 4]!;
      }
    }
  },
  /** GPU layout: grid indices (one vec4 word per block), then d. */
  gpuPlanes: [{ from: 2, bytes: 16 }, { from: 0, bytes: 2 }],
  wgsl: 'iq4_nl',
  cpu: 'iq4_nl',
};
