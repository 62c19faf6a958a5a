/**
 * Q8_1 activations (for Q4_1 / Q5_1 weights) as ggml-cpu's x86 quantize_row_q8_1 (AVX2) produces them —
 * 36 bytes per block of 32:
 *   bytes 0–1   f16 d = f16(amax / 127)
 *   bytes 2–3   f16 s = f16(d_f32 · Σ q)    (d_f32 = amax / 127 before rounding to f16; Σq exact)
 *   bytes 4–35  int8 q[32] = round_half_even(x · id),  id = 127 / amax (0 when amax = 0)
 * d and q are exactly Q8_0's (activation-q8_0.ts). The dot product with a Q4_1 / Q5_1 block is
 * d_w·d·Σ q_w·q + m_w·s: the min meets s, which differs from Σ (q·f16(d)) by f16 rounding.
 */
import type { ActivationCodec } from './activation.js';
import { q8Scales, saturateInt8, x86RoundToInt32 } from './activation-q8_0.js';
import { readF16, writeF16 } from './block-io.js';

const fr = Math.fround;

export const ACT_Q8_1: ActivationCodec = {
  format: 'q8_1',
  blockSize: 32,
  typeSize: 36,
  hasBlockSums: true,
  quantize(src, dst, o) {
    for (let i = 0; i < src.length / 32; i++) {
      const { d, id } = q8Scales(src, 32 * i);
      const b = o + 36 * i;
      let sum = 0;
      for (let j = 0; j < 32; j++) {
        const q = x86RoundToInt32(fr(src[32 * i + j]! * id));
        sum = (sum + q) | 0; // the int32 lanes before packing, summed with wrap-around (hsum_i32_8)
        dst[b + 4 + j] = saturateInt8(q) & 0xff;
      }
      writeF16(dst, b, d);
      writeF16(dst, b + 2, fr(d * sum));
    }
  },
  decode(src, n, values, blockSums) {
    for (let i = 0; i < n / 32; i++) {
      const d = readF16(src, 36 * i);
      if (blockSums) blockSums[i] = readF16(src, 36 * i + 2);
      for (let j = 0; j < 32; j++) values[32 * i + j] = ((src[36 * i + 4 + j]! << 24) >> 24) * d;
    }
  },
};
