/*
 * Pieces shared by the weight formats with 32-value blocks whose matmul runs on matmul-q8.h (Q4_1, Q5_0,
 * Q5_1, IQ4_NL, MXFP4): unpacking a block's values into two byte vectors (values 0..15 and 16..31) and
 * their dot product with one expanded activation block, in the two layouts matmul-q8.h expands:
 *   pair-split i16 (FMT_X_I8 0): x[0][k] = q[2k], x[1][k] = q[16 + 2k], x[2][k] = q[2k + 1], x[3][k] = q[17 + 2k]
 *   raw int8 (FMT_X_I8 1, relaxed build only): x[0] = q[0..15], x[1] = q[16..31]
 * Weights are unsigned bytes here: formats with signed values (IQ4_NL, MXFP4) look up their value plus
 * an offset and subtract offset · Σq in fmt_combine (matmul-q8.h hands the activation block's Σq over),
 * so every product is an exact integer, as in ggml's vec_dot.
 */
#ifndef MOECODE_CPU_BLOCK32_H
#define MOECODE_CPU_BLOCK32_H
#include "common.h"

/* The 32 nibbles of 16 packed bytes (byte j: value j low, value j + 16 high) as bytes 0..15. */
INLINE void b32_nibbles(const uint8_t *qs, v128_t *lo, v128_t *hi) {
  const v128_t v = wasm_v128_load(qs);
  const v128_t m = wasm_i8x16_splat(0x0f);
  *lo = wasm_v128_and(v, m);
  *hi = wasm_v128_and(wasm_u16x8_shr(v, 4), m);
}

/*
 * 0x10 in byte j of lo (j < 16) / of hi (value 16 + j) where bit j / 16 + j of the little-endian u32 at
 * qh is set, else 0 (the 5th bit of Q5_0 / Q5_1 values): each byte takes the qh byte holding its bit,
 * masks that bit and compares.
 */
INLINE void b32_high_bits(const uint8_t *qh, v128_t *lo, v128_t *hi) {
  const v128_t q = wasm_v128_load32_splat(qh);
  const v128_t bit = wasm_u64x2_splat(0x8040201008040201ull);
  const v128_t sixteen = wasm_i8x16_splat(0x10);
  const v128_t l = wasm_i8x16_shuffle(q, q, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
  const v128_t h = wasm_i8x16_shuffle(q, q, 2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
  *lo = wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(l, bit), bit), sixteen);
  *hi = wasm_v128_and(wasm_i8x16_eq(wasm_v128_and(h, bit), bit), sixteen);
}

/* table[idx] per byte, idx in 0..15 (so the relaxed swizzle, one pshufb / tbl, is deterministic). */
INLINE v128_t b32_lookup(v128_t table, v128_t idx) {
#if MOECODE_RELAXED_SIMD
  return wasm_i8x16_relaxed_swizzle(table, idx);
#else
  return wasm_i8x16_swizzle(table, idx);
#endif
}

/*
 * Σ w·q (i32x4 partial sums) of 32 unsigned byte weights (lo: values 0..15, hi: values 16..31) against a
 * pair-split i16 activation block: the even bytes of each i16 lane are values 2k, the odd ones 2k + 1.
 */
INLINE v128_t b32_dot_u8(v128_t lo, v128_t hi, const v128_t *x) {
  const v128_t m = wasm_i16x8_splat(0x00ff);
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_and(lo, m), x[0]), wasm_i32x4_dot_i16x8(wasm_v128_and(hi, m), x[1])),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_u16x8_shr(lo, 8), x[2]), wasm_i32x4_dot_i16x8(wasm_u16x8_shr(hi, 8), x[3])));
}

/*
 * Σ nibble·q of 16 packed nibble bytes against a pair-split activation block, straight from the packed
 * bytes: byte pair k of qs holds values 2k, 2k+16 (byte 2k) and 2k+1, 2k+17 (byte 2k+1), so 16-bit shifts
 * and masks give the pair-split order (as matmul_q4_0.c).
 */
INLINE v128_t b32_dot_nibbles(const uint8_t *qs, const v128_t *x) {
  const v128_t v = wasm_v128_load(qs);
  const v128_t m = wasm_i16x8_splat(0x000f);
  const v128_t q0 = wasm_v128_and(v, m);                   /* value 2k */
  const v128_t q1 = wasm_v128_and(wasm_u16x8_shr(v, 4), m); /* value 2k + 16 */
  const v128_t q2 = wasm_v128_and(wasm_u16x8_shr(v, 8), m); /* value 2k + 1 */
  const v128_t q3 = wasm_u16x8_shr(v, 12);                  /* value 2k + 17 */
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(q0, x[0]), wasm_i32x4_dot_i16x8(q1, x[1])),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(q2, x[2]), wasm_i32x4_dot_i16x8(q3, x[3])));
}

#if MOECODE_RELAXED_SIMD
/*
 * The same against raw int8 activations, for weights in 0..127 (every engine then computes the relaxed
 * dot exactly: pmaddubsw on x86, sdot/smull on Arm). The i16 pair sums of the two halves are added in
 * i16: callers keep weights <= 63 (2 · 2 · 127 · 63 < 32768).
 */
INLINE v128_t b32_dot_u6_relaxed(v128_t lo, v128_t hi, const v128_t *x) {
  const v128_t s16 = wasm_i16x8_add(wasm_i16x8_relaxed_dot_i8x16_i7x16(x[0], lo), wasm_i16x8_relaxed_dot_i8x16_i7x16(x[1], hi));
  return wasm_i32x4_extadd_pairwise_i16x8(s16);
}
#endif

/* The f16 at byte `off` of four blocks as f32x4 (lane i from block i). */
INLINE v128_t b32_f16x4(const void *b0, const void *b1, const void *b2, const void *b3, int off) {
  const v128_t h = wasm_i32x4_make(load_u16((const uint8_t *)b0 + off) << 16, load_u16((const uint8_t *)b1 + off) << 16,
                                   load_u16((const uint8_t *)b2 + off) << 16, load_u16((const uint8_t *)b3 + off) << 16);
  return f16hi_to_f32x4(h);
}

/* Two f16 at bytes 0 and 2 of four blocks (Q4_1 / Q5_1's d and m): lane i from block i. */
INLINE void b32_f16x4_pair(const void *b0, const void *b1, const void *b2, const void *b3, v128_t *first, v128_t *second) {
  uint32_t u[4];
  __builtin_memcpy(&u[0], b0, 4);
  __builtin_memcpy(&u[1], b1, 4);
  __builtin_memcpy(&u[2], b2, 4);
  __builtin_memcpy(&u[3], b3, 4);
  const v128_t v = wasm_v128_load(u);
  *first = f16hi_to_f32x4(wasm_i32x4_shl(v, 16));
  *second = f16hi_to_f32x4(wasm_v128_and(v, wasm_i32x4_splat((int32_t)0xffff0000)));
}

/*
 * Writes 32 values (lo/hi bytes, signed or not, plus `add`, in i16) · scale, plus `bias` when has_bias, as
 * f32 to y[0..31]. Without a bias nothing is added, so a zero times a negative scale stays −0 as in ggml.
 */
INLINE void b32_store_scaled(float *y, v128_t lo, v128_t hi, int signed_bytes, v128_t add16, v128_t scale, int has_bias, v128_t bias) {
  const v128_t halves[4] = {
      signed_bytes ? wasm_i16x8_extend_low_i8x16(lo) : wasm_u16x8_extend_low_u8x16(lo),
      signed_bytes ? wasm_i16x8_extend_high_i8x16(lo) : wasm_u16x8_extend_high_u8x16(lo),
      signed_bytes ? wasm_i16x8_extend_low_i8x16(hi) : wasm_u16x8_extend_low_u8x16(hi),
      signed_bytes ? wasm_i16x8_extend_high_i8x16(hi) : wasm_u16x8_extend_high_u8x16(hi),
  };
  for (int k = 0; k < 4; k++) {
    const v128_t h = wasm_i16x8_add(halves[k], add16);
    v128_t a = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(h)), scale);
    v128_t b = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(h)), scale);
    if (has_bias) {
      a = wasm_f32x4_add(a, bias);
      b = wasm_f32x4_add(b, bias);
    }
    wasm_v128_store(y + 8 * k, a);
    wasm_v128_store(y + 8 * k + 4, b);
  }
}

#endif
