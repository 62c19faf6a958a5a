/**
 * Q3_K: 110 bytes per super-block of 256 values = 16 sub-blocks of 16.
 *   bytes 0–31    hmask[32]  high bits: bit (4h + j) of byte l is the high bit of value i, with
 *                            h = i >> 7, j = (i >> 5) & 3, l = i & 31 (see qs)
 *   bytes 32–95   qs[64]     low 2 bits: bits 2j..2j+1 of byte 32 + 32h + l
 *   bytes 96–107  scales[12] 16 six-bit scales S[k], packed (k = 0..15, s = scale bytes):
 *                              low 4 bits:  k < 8 ? s[k] & 15 : s[k−8] >> 4
 *                              high 2 bits: (s[8 + k % 4] >> 2·⌊k/4⌋) & 3
 *   bytes 108–109 f16 d      super-block scale
 *   q = low2 − (high bit set ? 0 : 4) ∈ −4..3
 *   x = (d · (S[s] − 32)) · q,  s = i >> 4   (signed scale −32..31; both products exact in f32)
 * Activations: Q8_K (ggml-cpu's vec_dot_type).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { readF16 } from './block-io.js';
import type { TensorFormat } from './format.js';
import { copyBytes, pack1Bits, pack2Bits } from './gpu-order.js';

/** Six-bit scale k (0..15) of a Q3_K block whose scale bytes start at `src[at]`, as stored (0..63). */
export function q3kScale(src: Uint8Array, at: number, k: number): number {
  const low = k < 8 ? src[at + k]! & 0x0f : src[at + k - 8]! >>> 4;
  const high = (src[at + 8 + (k & 3)]! >>> (2 * (k >>> 2))) & 3;
  return low | (high << 4);
}

/** The inverse of q3kScale: packs 16 six-bit scales (0..63, as stored) into the 12 bytes at `dst[at ..]`. */
export function packQ3kScales(scales: ArrayLike<number>, dst: Uint8Array, at: number): void {
  dst.fill(0, at, at + 12);
  for (let k = 0; k < 16; k++) {
    const v = scales[k]! & 63;
    if (k < 8) dst[at + k]! |= v & 0x0f;
    else dst[at + k - 8]! |= (v & 0x0f) << 4;
    dst[at + 8 + (k & 3)]! |= (v >>> 4) << (2 * (k >>> 2));
  }
}

export const Q3_K: TensorFormat = {
  type: GgmlType.Q3_K,
  name: 'Q3_K',
  blockSize: 256,
  typeSize: 110,
  activation: 'q8_K',
  dequantize(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) {
      const b = i * 110;
      const d = readF16(src, b + 108);
      for (let v = 0; v < 256; v += 16) {
        const dl = d * (q3kScale(src, b + 96, v >>> 4) - 32);
        const h = v >>> 7;
        const j = (v >>> 5) & 3;
        const mask = 1 << (4 * h + j);
        const l0 = v & 31;
        const q = b + 32 + 32 * h + l0;
        const y = o + i * 256 + v;
        for (let l = 0; l < 16; l++) {
          const low = (src[q + l]! >>> (2 * j)) & 3;
          dst[y + l] = dl * (low - (src[b + l0 + l]! & mask ? 0 : 4));
        }
      }
    }
  },
  /**
   * GPU layout: chunk c (values 32c ..) gets its low 2-bit quants at 8c and its high bits as one word at
   * 64 + 4c (gpu-order.ts pack2Bits, pack1Bits); the scales and d stay at 96. Planes: those 96 bytes (six
   * vec4 words per block), then the scales and d padded to one vec4 word (2 of 112 bytes are padding).
   */
  gpuReorder(src, s, dst, d) {
    for (let c = 0; c < 8; c++) {
      const h = c >>> 2;
      const j = c & 3;
      pack2Bits(src, s + 32 + 32 * h, 2 * j, dst, d + 8 * c);
      pack1Bits(src, s, 4 * h + j, dst, d + 64 + 4 * c);
    }
    copyBytes(src, s + 96, 14, dst, d + 96);
  },
  gpuPlanes: [{ from: 0, bytes: 96 }, { from: 96, bytes: 14, stride: 16 }],
  wgsl: 'q3_k',
  cpu: 'q3_K',
};
