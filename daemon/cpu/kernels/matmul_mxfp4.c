/*
 * MXFP4 weights (one E8M0 exponent byte e, 16 bytes of E2M1 codes; x = kvalues_mxfp4[code]·2^(e − 128),
 * kvalues being the E2M1 values doubled: 0, 1, 2, 3, 4, 6, 8, 12, −0, −1, …, −12) against q8_0
 * activations, as ggml_vec_dot_mxfp4_q8_0: per block f32(d_x · E8M0_TO_FP32_HALF(e)) · Σ kvalues[c]·q_x.
 * E8M0_TO_FP32_HALF(e) = 2^(e − 128) for every byte: e = 0, 1 give the f32 subnormals 2^−128, 2^−127,
 * e = 255 gives 2^127 (no NaN); the product with d_x rounds (subnormal) or overflows to ±inf as ggml's
 * does. The table lookup is a byte swizzle of kvalues + 12 (0..24, which the relaxed int8 dot takes as
 * its 7-bit operand); the offset comes back out as 12·Σ q_x.
 */
#include "block32.h"

typedef struct {
  uint8_t e;      /* E8M0 exponent */
  uint8_t qs[16]; /* byte j: code of value j (low nibble), of value j + 16 (high nibble) */
} block_mxfp4;    /* 17 bytes */
_Static_assert(sizeof(block_mxfp4) == 17, "block_mxfp4 size");

#define MXFP4_VALUES 0, 1, 2, 3, 4, 6, 8, 12, 0, -1, -2, -3, -4, -6, -8, -12
#define MXFP4_OFFSET 12

#define FMT_NAME mxfp4
#define FMT_BLOCK block_mxfp4
#define FMT_ACT_Q8_1 0

/* GGML_E8M0_TO_FP32_HALF for four exponents in the i32 lanes of e: the f32 bits (e − 1) << 23 for e >= 2,
 * 0x00200000 << e (subnormal) for e < 2. */
INLINE v128_t e8m0_half_x4(v128_t e) {
  const v128_t normal = wasm_i32x4_shl(wasm_i32x4_sub(e, wasm_i32x4_splat(1)), 23);
  const v128_t subnormal = wasm_i32x4_add(wasm_i32x4_splat(0x00200000), wasm_i32x4_shl(e, 21));
  return wasm_v128_bitselect(subnormal, normal, wasm_i32x4_lt(e, wasm_i32x4_splat(2)));
}

INLINE float e8m0_half(uint8_t e) { return bits_f32(e < 2 ? 0x00200000u << e : (uint32_t)(e - 1) << 23); }

typedef struct {
  v128_t scale;
} fmt_wmeta;

INLINE fmt_wmeta fmt_wmeta4(const block_mxfp4 *b0, const block_mxfp4 *b1, const block_mxfp4 *b2, const block_mxfp4 *b3) {
  return (fmt_wmeta){e8m0_half_x4(wasm_i32x4_make(b0->e, b1->e, b2->e, b3->e))};
}

INLINE fmt_wmeta fmt_wmeta1(const block_mxfp4 *b) { return (fmt_wmeta){wasm_f32x4_splat(e8m0_half(b->e))}; }

#define MXFP4_U8(v) (uint8_t)((v) + MXFP4_OFFSET)
#define MXFP4_TABLE_U8                                                                                                                          \
  wasm_u8x16_make(MXFP4_U8(0), MXFP4_U8(1), MXFP4_U8(2), MXFP4_U8(3), MXFP4_U8(4), MXFP4_U8(6), MXFP4_U8(8), MXFP4_U8(12), MXFP4_U8(0), MXFP4_U8(-1), \
                  MXFP4_U8(-2), MXFP4_U8(-3), MXFP4_U8(-4), MXFP4_U8(-6), MXFP4_U8(-8), MXFP4_U8(-12))

#if MOECODE_RELAXED_SIMD
#define FMT_X_I8 1
INLINE v128_t fmt_dot(const block_mxfp4 *w, const v128_t *x) {
  v128_t lo, hi;
  b32_nibbles(w->qs, &lo, &hi);
  const v128_t t = MXFP4_TABLE_U8;
  return b32_dot_u6_relaxed(b32_lookup(t, lo), b32_lookup(t, hi), x);
}
#else
INLINE v128_t fmt_dot(const block_mxfp4 *w, const v128_t *x) {
  v128_t lo, hi;
  b32_nibbles(w->qs, &lo, &hi);
  const v128_t t = MXFP4_TABLE_U8;
  return b32_dot_u8(b32_lookup(t, lo), b32_lookup(t, hi), x);
}
#endif

/* ggml: f32(d_x · scale) first, then times the integer sum. */
INLINE v128_t fmt_combine(v128_t isum, fmt_wmeta w, v128_t dx, v128_t xsum, v128_t xs) {
  (void)xs;
  const v128_t q = wasm_i32x4_sub(isum, wasm_i32x4_mul(xsum, wasm_i32x4_splat(MXFP4_OFFSET)));
  return wasm_f32x4_mul(wasm_f32x4_convert_i32x4(q), wasm_f32x4_mul(dx, w.scale));
}

#include "matmul-q8.h"

void EXPORT(dequantize_row_mxfp4)(const void *src, float *y, int n) {
  const block_mxfp4 *x = src;
  const v128_t t = wasm_i8x16_make(MXFP4_VALUES);
  for (int i = 0; i < n / 32; i++) {
    v128_t lo, hi;
    b32_nibbles(x[i].qs, &lo, &hi);
    b32_store_scaled(y + 32 * i, b32_lookup(t, lo), b32_lookup(t, hi), 1, wasm_i16x8_splat(0), wasm_f32x4_splat(e8m0_half(x[i].e)), 0, wasm_f32x4_splat(0));
  }
}
