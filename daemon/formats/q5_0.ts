/**
 * Q5_0: 22 bytes per 32 values.
 *   bytes 0–1   f16 d
 *   bytes 2–5   qh: u32 little endian, bit j = the 5th bit (value 16) of value j
 *   bytes 6–21  qs[16]: byte j holds the low 4 bits of value j (low nibble) and of value j+16 (high nibble)
 *   x = (q − 16) · d,  q ∈ 0..31
 * Activations: Q8_0 (ggml-cpu's vec_dot_type).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { readF16, readU32, truncToInt8, writeF16, writeU32 } from './block-io.js';
import type { TensorFormat } from './format.js';

const fr = Math.fround;

export const Q5_0: TensorFormat = {
  type: GgmlType.Q5_0,
  name: 'Q5_0',
  blockSize: 32,
  typeSize: 22,
  activation: 'q8_0',
  dequantize(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) {
      const b = i * 22;
      const d = readF16(src, b);
      const qh = readU32(src, b + 2);
      const y = o + i * 32;
      for (let j = 0; j < 16; j++) {
        const q = src[b + 6 + j]!;
        dst[y + j] = (((q & 0x0f) | (((qh >>> j) & 1) << 4)) - 16) * d;
        dst[y + j + 16] = (((q >>> 4) | (((qh >>> (j + 16)) & 1) << 4)) - 16) * d;
      }
    }
  },
  /**
   * quantize_row_q5_0_ref: max = the value of largest magnitude (first one on ties), d = max/−16,
   * id = 1/d, q = min(31, (int8_t)(x·id + 16.5f)) (truncation).
   */
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
      const d = fr(max / -16);
      const id = d !== 0 ? fr(1 / d) : 0;
      const b = o + i * 22;
      writeF16(dst, b, d);
      let qh = 0;
      for (let j = 0; j < 16; j++) {
        const q0 = Math.min(31, truncToInt8(fr(fr(src[base + j]! * id) + 16.5))) & 0xff;
        const q1 = Math.min(31, truncToInt8(fr(fr(src[base + 16 + j]! * id) + 16.5))) & 0xff;
        dst[b + 6 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
        qh |= ((q0 >>> 4) & 1) << j;
        qh |= ((q1 >>> 4) & 1) << (j + 16);
      }
      writeU32(dst, b + 2, qh >>> 0);
    }
  },
  /** GPU layout: low nibbles (one vec4 word per block), then qh (one word), then d. */
  gpuPlanes: [{ from: 6, bytes: 16 }, { from: 2, bytes: 4 }, { from: 0, bytes: 2 }],
  wgsl: 'q5_0',
  cpu: 'q5_0',
};
