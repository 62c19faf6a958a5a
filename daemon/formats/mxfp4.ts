/**
 * MXFP4 (OCP microscaling FP4): 17 bytes per 32 values.
 *   byte 0      e: E8M0 shared exponent
 *   bytes 1–16  qs[16]: byte j holds the E2M1 code of value j (low nibble) and of value j+16 (high nibble)
 *   x = FP4_VALUES[code] · 2^(e − 128)
 * FP4_VALUES are the E2M1 values doubled (ggml's kvalues_mxfp4: 0, 1, 2, 3, 4, 6, 8, 12 and negatives;
 * code 8 is −0), so the scale is half the E8M0 value 2^(e−127): ggml's GGML_E8M0_TO_FP32_HALF, which gives
 * 2^(e−128) for every e, 0 and 255 included (e = 0 → 2^−128, an f32 subnormal; e = 255 → 2^127; no NaN).
 * Products are exact in f32 unless they overflow: 12 · 2^127 is +∞ in ggml and here alike.
 * Activations: Q8_0 (ggml-cpu's vec_dot_type).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { truncToInt8 } from './block-io.js';
import type { TensorFormat } from './format.js';

const fr = Math.fround;

/** ggml's kvalues_mxfp4 (E2M1 values × 2). */
export const FP4_VALUES: readonly number[] = [0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12];

/** GGML_E8M0_TO_FP32_HALF: 2^(e − 128), exact as an f32 for every byte. */
export function e8m0Half(e: number): number {
  return 2 ** ((e & 0xff) - 128);
}

/** best_index_mxfp4: the code whose value·scale is nearest to x (|error| in f32; the first code on ties). */
function bestIndex(x: number, scale: number): number {
  let best = 0;
  let bestErr = Math.abs(fr(FP4_VALUES[0]! * scale - x));
  for (let i = 1; i < 16; i++) {
    const err = Math.abs(fr(FP4_VALUES[i]! * scale - x));
    if (err < bestErr) {
      best = i;
      bestErr = err;
    }
  }
  return best;
}

export const MXFP4: TensorFormat = {
  type: GgmlType.MXFP4,
  name: 'MXFP4',
  blockSize: 32,
  typeSize: 17,
  activation: 'q8_0',
  dequantize(src, nb, dst, o) {
    for (let i = 0; i < nb; i++) {
      const b = i * 17;
      const scale = e8m0Half(src[b]!);
      const y = o + i * 32;
      for (let j = 0; j < 16; j++) {
        const q = src[b + 1 + j]!;
        dst[y + j] = FP4_VALUES[q & 0x0f]! * scale;
        dst[y + j + 16] = FP4_VALUES[q >>> 4]! * scale;
      }
    }
  },
  /**
   * quantize_row_mxfp4_ref: e = (uint8_t)(floorf(log2f(amax)) − 2 + 127) (0 when amax = 0), then each value
   * takes the nearest code at scale 2^(e−128). log2f is emulated as fround(log2): it differs from glibc's
   * only within an f32 ulp of an integer, i.e. for amax within a few ulps below a power of two.
   */
  quantize(src, dst, o) {
    const nb = src.length / 32;
    for (let i = 0; i < nb; i++) {
      const base = i * 32;
      let amax = 0;
      for (let j = 0; j < 32; j++) if (amax < Math.abs(src[base + j]!)) amax = Math.abs(src[base + j]!);
      const e = amax > 0 ? truncToInt8(Math.floor(fr(Math.log2(amax))) - 2 + 127) & 0xff : 0;
      const scale = e8m0Half(e);
      const b = o + i * 17;
      dst[b] = e;
      for (let j = 0; j < 16; j++) dst[b + 1 + j] = bestIndex(src[base + j]!, scale) | (bestIndex(src[base + 16 + j]!, scale) << 4);
    }
  },
  /** GPU layout: E2M1 codes (one vec4 word per block), then e (four blocks per word). */
  gpuPlanes: [{ from: 1, bytes: 16 }, { from: 0, bytes: 1 }],
  wgsl: 'mxfp4',
  cpu: 'mxfp4',
};
