/**
 * Q5_1: 24 bytes per 32 values.
 *   bytes 0–1   f16 d   (scale)
 *   bytes 2–3   f16 m   (min)
 *   bytes 4–7   qh: u32 little endian, bit j = the 5th bit (value 16) of value j
 *   bytes 8–23  qs[16]: byte j holds the low 4 bits of value j (low nibble) and of value j+16 (high nibble)
 *   x = q · d + m,  q ∈ 0..31   (q·d exact in f32; only the addition rounds)
 * Activations: Q8_1 (ggml-cpu's vec_dot_type); like Q4_1 the min multiplies the activation block's stored
 * sum s (see q4_1.ts, activation-q8_1.ts).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { affineBlockRange, readF16, readU32, truncToInt8, writeF16, writeU32 } from './block-io.js';
import type { TensorFormat } from './format.js';

const fr = Math.fround;

export const Q5_1: TensorFormat = {
  type: GgmlType.Q5_1,
  name: 'Q5_1',
  blockSize: 32,
  typeSize: 24,
  activation: 'q8_1',
  dequantize(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) {
      const b = i * 24;
      const d = readF16(src, b);
      const m = readF16(src, b + 2);
      const qh = readU32(src, b + 4);
      const y = o + i * 32;
      for (let j = 0; j < 16; j++) {
        const q = src[b + 8 + j]!;
        dst[y + j] = ((q & 0x0f) | (((qh >>> j) & 1) << 4)) * d + m;
        dst[y + j + 16] = ((q >>> 4) | (((qh >>> (j + 16)) & 1) << 4)) * d + m;
      }
    }
  },
  blockMins(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) dst[o + i] = readF16(src, i * 24 + 2);
  },
  /**
   * quantize_row_q5_1_ref: min and max of the block, d = (max − min)/31, id = 1/d,
   * q = (uint8_t)((x − min)·id + 0.5f) (truncation, no clamp); stores f16(d) and f16(min).
   */
  quantize(src, dst, o) {
    const nb = src.length / 32;
    for (let i = 0; i < nb; i++) {
      const base = i * 32;
      const { min, d, id } = affineBlockRange(src, base, 32, 31);
      const b = o + i * 24;
      writeF16(dst, b, d);
      writeF16(dst, b + 2, min);
      let qh = 0;
      for (let j = 0; j < 16; j++) {
        const q0 = truncToInt8(fr(fr(fr(src[base + j]! - min) * id) + 0.5)) & 0xff;
        const q1 = truncToInt8(fr(fr(fr(src[base + 16 + j]! - min) * id) + 0.5)) & 0xff;
        dst[b + 8 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
        qh |= ((q0 >>> 4) & 1) << j;
        qh |= ((q1 >>> 4) & 1) << (j + 16);
      }
      writeU32(dst, b + 4, qh >>> 0);
    }
  },
  /** GPU layout: low nibbles (one vec4 word per block), then d, m and qh (two words). */
  gpuPlanes: [{ from: 8, bytes: 16 }, { from: 0, bytes: 8 }],
  wgsl: 'q5_1',
  cpu: 'q5_1',
};
