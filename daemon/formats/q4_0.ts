/**
 * Q4_0: 18 bytes per 32 values = f16 d, uint8 qs[16]; byte j holds value j in its low nibble and value
 * j+16 in its high nibble;  x = (nibble − 8) · d.  Activations: Q8_0.
 */
import { GgmlType } from '../gguf/ggml-types.js';
import type { TensorFormat } from './format.js';
import { truncToInt8 } from './block-io.js';
import { f16ToF32Table, f32ToF16Bits } from './half.js';

export const Q4_0: TensorFormat = {
  type: GgmlType.Q4_0,
  name: 'Q4_0',
  blockSize: 32,
  typeSize: 18,
  activation: 'q8_0',
  dequantize(src, nb, dst, o) {
    const t = f16ToF32Table();
    for (let i = 0; i < nb; i++) {
      const b = i * 18;
      const d = t[src[b]! | (src[b + 1]! << 8)]!;
      for (let j = 0; j < 16; j++) {
        const q = src[b + 2 + j]!;
        dst[o + i * 32 + j] = ((q & 0x0f) - 8) * d;
        dst[o + i * 32 + j + 16] = ((q >>> 4) - 8) * d;
      }
    }
  },
  /** quantize_row_q4_0_ref: d = max/−8 (max = the value of largest magnitude), q = min(15, (int)(x/d + 8.5)). */
  quantize(src, dst, o) {
    const nb = src.length / 32;
    for (let i = 0; i < nb; i++) {
      const base = i * 32;
      let amax = 0;
      let max = 0;
      for (let j = 0; j < 32; j++) {
        const v = src[base + j]!;
        if (amax < Math.abs(v)) {
          amax = Math.abs(v);
          max = v;
        }
      }
      const d = Math.fround(max / -8);
      const id = d !== 0 ? Math.fround(1 / d) : 0;
      const b = o + i * 18;
      const h = f32ToF16Bits(d);
      dst[b] = h & 0xff;
      dst[b + 1] = h >>> 8;
      for (let j = 0; j < 16; j++) {
        const x0 = Math.fround(src[base + j]! * id);
        const x1 = Math.fround(src[base + 16 + j]! * id);
        // (int8_t)(x + 8.5f) truncates toward zero; x ∈ [-8, 8] so the sum is in [0.5, 16.5] (∞/NaN when
        // the block is f32-subnormal and id overflowed: truncToInt8 gives what x86 code gives)
        const xi0 = Math.min(15, truncToInt8(Math.fround(x0 + 8.5)));
        const xi1 = Math.min(15, truncToInt8(Math.fround(x1 + 8.5)));
        dst[b + 2 + j] = (xi0 & 0xf) | ((xi1 & 0xf) << 4);
      }
    }
  },
  /** GPU layout: nibbles (one vec4 word per block), then d. */
  gpuPlanes: [{ from: 2, bytes: 16 }, { from: 0, bytes: 2 }],
  wgsl: 'q4_0',
  cpu: 'q4_0',
};
