/*
 * The packed 6-bit scales and mins of Q4_K and Q5_K (ggml's get_scale_min_k4; daemon/formats/k-scales.ts):
 * 12 bytes s[0..11] hold sc[0..7] and m[0..7]:
 *   j < 4:  sc[j] = s[j] & 63                            m[j] = s[j+4] & 63
 *   j >= 4: sc[j] = (s[j+4] & 15) | (s[j-4] >> 6) << 4   m[j] = (s[j+4] >> 4) | (s[j] >> 6) << 4
 */
#ifndef MOECODE_SCALE_MIN_K4_H
#define MOECODE_SCALE_MIN_K4_H
#include "qk-common.h"

/* The 12 bytes at p (16 are read: p must have 4 readable bytes after the scales) -> sc[j] in i16 lane j of
 * *sc, m[j] in lane j of *mn. As u32 lanes u0 = s[0..3], u1 = s[4..7], u2 = s[8..11], byte-parallel:
 *   sc[0..3] = u0 & 0x3f   sc[4..7] = (u2 & 0x0f) | ((u0 >> 2) & 0x30)
 *   m[0..3]  = u1 & 0x3f   m[4..7]  = ((u2 >> 4) & 0x0f) | ((u1 >> 2) & 0x30)                           */
INLINE void scale_min_k4(const uint8_t *p, v128_t *sc, v128_t *mn) {
  const v128_t u = wasm_v128_load(p);
  const v128_t lo = wasm_v128_and(wasm_i32x4_shuffle(u, wasm_u32x4_shr(u, 4), 0, 2, 1, 6), wasm_i32x4_make(0x3f3f3f3f, 0x0f0f0f0f, 0x3f3f3f3f, 0x0f0f0f0f));
  const v128_t hi = wasm_v128_and(wasm_u32x4_shr(wasm_i32x4_shuffle(u, u, 0, 0, 1, 1), 2), wasm_i32x4_make(0, 0x30303030, 0, 0x30303030));
  const v128_t b = wasm_v128_or(lo, hi); /* bytes: sc[0..7], m[0..7] */
  *sc = wasm_u16x8_extend_low_u8x16(b);
  *mn = wasm_u16x8_extend_high_u8x16(b);
}

#endif
