/**
 * Q8_K activations (for the K-quants and IQ4_XS) as ggml-cpu computes them: on x86 quantize_row_q8_K is
 * quantize_row_q8_K_ref itself — 292 bytes per block of 256:
 *   bytes 0–3      f32 d = 1 / iscale              (0 when the block is all zeros)
 *   bytes 4–259    int8 q[256] = min(127, nearest_int(iscale · x))
 *   bytes 260–291  int16 bsums[16] = Σ q over each run of 16
 * where max = the value of largest magnitude (the first one on ties, sign kept), iscale = −127 / max (f32),
 * and nearest_int rounds half to even (ggml adds 1.5·2^23 in f32). The sign convention maps `max` to −127.
 * For an all-zero block ggml writes d = 0 and q = 0 and leaves bsums unwritten; here they are 0.
 * The dot products see q · d exactly (d is an f32), and the bsums are the exact sums of q.
 *
 * The repacked Q4_K / Q2_K matmuls (4 rows at a time) quantize with ggml_quantize_mat_q8_K_4x8, whose
 * x86 code gives the same d and q except when +amax and −amax both occur in a block (it may pick the
 * other sign).
 */
import type { ActivationCodec } from './activation.js';

const fr = Math.fround;
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/**
 * ggml's nearest_int: the f32 sum fval + 1.5·2^23 read back as bits — round half to even for
 * |fval| ≤ 2^22; for ∞/NaN (f32-subnormal blocks, where iscale overflows) it yields −2^22 and 0.
 */
function nearestInt(fval: number): number {
  f32[0] = fval + 12582912;
  return (u32[0]! & 0x007fffff) - 0x00400000;
}

export const ACT_Q8_K: ActivationCodec = {
  format: 'q8_K',
  blockSize: 256,
  typeSize: 292,
  hasBlockSums: false,
  quantize(src, dst, o) {
    const dv = new DataView(dst.buffer, dst.byteOffset, dst.byteLength);
    for (let i = 0; i < src.length / 256; i++) {
      const x = 256 * i;
      const b = o + 292 * i;
      let amax = 0;
      let max = 0;
      for (let j = 0; j < 256; j++) {
        const ax = Math.abs(src[x + j]!);
        if (ax > amax) {
          amax = ax;
          max = src[x + j]!;
        }
      }
      if (amax === 0) {
        dst.fill(0, b, b + 292);
        continue;
      }
      const iscale = fr(-127 / max);
      for (let k = 0; k < 16; k++) {
        let sum = 0;
        for (let l = 0; l < 16; l++) {
          const j = 16 * k + l;
          const q = (Math.min(127, nearestInt(fr(iscale * src[x + j]!))) << 24) >> 24; // stored as int8_t
          sum += q;
          dst[b + 4 + j] = q & 0xff;
        }
        dv.setInt16(b + 260 + 2 * k, sum, true);
      }
      dv.setFloat32(b, fr(1 / iscale), true);
    }
  },
  decode(src, n, values) {
    const dv = new DataView(src.buffer, src.byteOffset, src.byteLength);
    for (let i = 0; i < n / 256; i++) {
      const d = dv.getFloat32(292 * i, true);
      for (let j = 0; j < 256; j++) values[256 * i + j] = ((src[292 * i + 4 + j]! << 24) >> 24) * d;
    }
  },
};
