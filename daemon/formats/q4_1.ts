/**
 * Q4_1: 20 bytes per 32 values.
 *   bytes 0–1   f16 d   (scale)
 *   bytes 2–3   f16 m   (min)
 *   bytes 4–19  qs[16]: byte j holds value j in its low nibble and value j+16 in its high nibble
 *   x = q · d + m,  q ∈ 0..15
 * (q·d is exact in f32, so only the addition rounds: FMA or not gives the same f32.)
 * Activations: Q8_1 (ggml-cpu's vec_dot_type): the dot product is Σ_blocks d_w·d_x·Σ q_w·q_x + m_w·s_x,
 * where s_x is the activation block's stored f16 sum (see activation-q8_1.ts), hence `blockMins`.
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { affineBlockRange, readF16, truncToInt8, writeF16 } from './block-io.js';
import type { TensorFormat } from './format.js';

const fr = Math.fround;

export const Q4_1: TensorFormat = {
  type: GgmlType.Q4_1,
  name: 'Q4_1',
  blockSize: 32,
  typeSize: 20,
  activation: 'q8_1',
  dequantize(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) {
      const b = i * 20;
      const d = readF16(src, b);
      const m = readF16(src, b + 2);
      const y = o + i * 32;
      for (let j = 0; j < 16; j++) {
        const q = src[b + 4 + j]!;
        dst[y + j] = (q & 0x0f) * d + m;
        dst[y + j + 16] = (q >>> 4) * d + m;
      }
    }
  },
  blockMins(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) dst[o + i] = readF16(src, i * 20 + 2);
  },
  /**
   * quantize_row_q4_1_ref: min and max of the block (f32), d = (max − min)/15, id = 1/d (0 when d = 0),
   * q = min(15, (int8_t)((x − min)·id + 0.5f)) (truncation); stores f16(d) and f16(min).
   */
  quantize(src, dst, o) {
    const nb = src.length / 32;
    for (let i = 0; i < nb; i++) {
      const base = i * 32;
      const { min, d, id } = affineBlockRange(src, base, 32, 15);
      const b = o + i * 20;
      writeF16(dst, b, d);
      writeF16(dst, b + 2, min);
      for (let j = 0; j < 16; j++) {
        const x0 = fr(fr(src[base + j]! - min) * id);
        const x1 = fr(fr(src[base + 16 + j]! - min) * id);
        const q0 = Math.min(15, truncToInt8(fr(x0 + 0.5)));
        const q1 = Math.min(15, truncToInt8(fr(x1 + 0.5)));
        dst[b + 4 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
      }
    }
  },
  /** GPU layout: nibbles (one vec4 word per block), then d and m (one word). */
  gpuPlanes: [{ from: 4, bytes: 16 }, { from: 0, bytes: 4 }],
  wgsl: 'q4_1',
  cpu: 'q4_1',
};
