/**
 * The packed 6-bit scales and mins of Q4_K and Q5_K (ggml's get_scale_min_k4): 12 bytes hold 8 scales
 * sc[0..7] and 8 mins m[0..7], one pair per sub-block of 32 values.
 *
 *   j < 4:  sc[j] = s[j] & 63                          m[j] = s[j+4] & 63
 *   j ≥ 4:  sc[j] = (s[j+4] & 15) | (s[j−4] >> 6) << 4  m[j] = (s[j+4] >> 4) | (s[j] >> 6) << 4
 *
 * i.e. bytes 0–3 carry sc[0..3] in their low 6 bits and the top 2 bits of sc[4..7]; bytes 4–7 carry
 * m[0..3] and the top 2 bits of m[4..7]; bytes 8–11 carry the low 4 bits of sc[4..7] (low nibble) and
 * of m[4..7] (high nibble).
 */

/** Scale and min of sub-block j (0..7) from the 12 scale bytes at `src[at ..]`; writes out[0] = sc, out[1] = m. */
export function scaleMinK4(src: Uint8Array, at: number, j: number, out: Uint8Array | number[]): void {
  if (j < 4) {
    out[0] = src[at + j]! & 63;
    out[1] = src[at + j + 4]! & 63;
  } else {
    out[0] = (src[at + j + 4]! & 0x0f) | ((src[at + j - 4]! >>> 6) << 4);
    out[1] = (src[at + j + 4]! >>> 4) | ((src[at + j]! >>> 6) << 4);
  }
}

/** The inverse: packs 8 scales and 8 mins (each 0..63) into 12 bytes at `dst[at ..]`. */
export function packScaleMinK4(sc: ArrayLike<number>, m: ArrayLike<number>, dst: Uint8Array, at: number): void {
  for (let j = 0; j < 4; j++) {
    dst[at + j] = (sc[j]! & 63) | ((sc[j + 4]! >>> 4) << 6);
    dst[at + j + 4] = (m[j]! & 63) | ((m[j + 4]! >>> 4) << 6);
    dst[at + j + 8] = (sc[j + 4]! & 0x0f) | ((m[j + 4]! & 0x0f) << 4);
  }
}
