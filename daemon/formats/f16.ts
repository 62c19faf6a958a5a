/** F16: IEEE half, 2 bytes per value; activations are rounded to f16 before the dot products. */
import { GgmlType } from '../gguf/ggml-types.js';
import type { TensorFormat } from './format.js';
import { f16ToF32Table, f32ToF16Bits } from './half.js';

export const F16: TensorFormat = {
  type: GgmlType.F16,
  name: 'F16',
  blockSize: 1,
  typeSize: 2,
  activation: 'f16',
  dequantize(src, n, dst, o) {
    const t = f16ToF32Table();
    for (let i = 0; i < n; i++) dst[o + i] = t[src[2 * i]! | (src[2 * i + 1]! << 8)]!;
  },
  quantize(src, dst, o) {
    const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
    for (let i = 0; i < src.length; i++) {
      const x = bits[i]!;
      const exp = (x >>> 23) & 0xff;
      let h: number;
      if (exp > 112 && exp < 143) {
        // normal half range, no overflow before rounding: inline fast path of f32ToF16Bits
        const mant = x & 0x7fffff;
        h = ((exp - 112) << 10) | (mant >>> 13);
        const rem = mant & 0x1fff;
        if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++;
        h |= (x >>> 16) & 0x8000;
      } else {
        h = f32ToF16Bits(src[i]!);
      }
      dst[o + 2 * i] = h & 0xff;
      dst[o + 2 * i + 1] = h >>> 8;
    }
  },
  wgsl: 'f16',
  cpu: 'f16',
};
