/**
 * Q8_0: 34 bytes per 32 values = f16 d, int8 qs[32];  x = qs[j] · d.
 * Activations: Q8_0 (ggml's vec_dot_type for Q8_0).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import type { TensorFormat } from './format.js';
import { f16ToF32Table, f32ToF16Bits } from './half.js';

export const Q8_0: TensorFormat = {
  type: GgmlType.Q8_0,
  name: 'Q8_0',
  blockSize: 32,
  typeSize: 34,
  activation: 'q8_0',
  dequantize(src, nb, dst, o) {
    const t = f16ToF32Table();
    for (let i = 0; i < nb; i++) {
      const b = i * 34;
      const d = t[src[b]! | (src[b + 1]! << 8)]!;
      for (let j = 0; j < 32; j++) dst[o + i * 32 + j] = ((src[b + 2 + j]! << 24) >> 24) * d;
    }
  },
  /** quantize_row_q8_0_ref: d = amax/127, q = roundf(x/d) (half away from zero). */
  quantize(src, dst, o) {
    const nb = src.length / 32;
    for (let i = 0; i < nb; i++) {
      const base = i * 32;
      let amax = 0;
      for (let j = 0; j < 32; j++) {
        const a = Math.abs(src[base + j]!);
        amax = amax > a ? amax : a; // ggml's MAX(amax, fabsf(v))
      }
      const d = Math.fround(amax / 127);
      const id = d !== 0 ? Math.fround(1 / d) : 0;
      const b = o + i * 34;
      const h = f32ToF16Bits(d);
      dst[b] = h & 0xff;
      dst[b + 1] = h >>> 8;
      for (let j = 0; j < 32; j++) {
        const x0 = Math.fround(src[base + j]! * id);
        // roundf: half away from zero (x0 is a float32, so x0 ± 0.5 is exact in double); |x0| ≤ 127
        dst[b + 2 + j] = (x0 < 0 ? -Math.floor(0.5 - x0) : Math.floor(x0 + 0.5)) & 0xff;
      }
    }
  },
  /** GPU layout: quants (two vec4 words per block), then d. */
  gpuPlanes: [{ from: 2, bytes: 32 }, { from: 0, bytes: 2 }],
  wgsl: 'q8_0',
  cpu: 'q8_0',
};
