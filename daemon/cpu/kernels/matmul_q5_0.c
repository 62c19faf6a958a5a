/*
 * Q5_0 weights (f16 d, u32 qh of 5th bits, 16 bytes of low nibbles; x = (q − 16)·d, q in 0..31) against
 * q8_0 activations, as ggml_vec_dot_q5_0_q8_0: per block d_w·d_x·Σ (q_w − 16)·q_x, computed as
 * Σ q_w·q_x − 16·Σ q_x.
 */
#include "block32.h"

typedef struct {
  uint16_t d;     /* f16 scale */
  uint8_t qh[4];  /* bit j: the 5th bit (16) of value j */
  uint8_t qs[16]; /* byte j: low 4 bits of value j (low nibble), of value j + 16 (high nibble) */
} block_q5_0;     /* 22 bytes */
_Static_assert(sizeof(block_q5_0) == 22, "block_q5_0 size");

#define FMT_NAME q5_0
#define FMT_BLOCK block_q5_0
#define FMT_ACT_Q8_1 0

typedef struct {
  v128_t d;
} fmt_wmeta;

INLINE fmt_wmeta fmt_wmeta4(const block_q5_0 *b0, const block_q5_0 *b1, const block_q5_0 *b2, const block_q5_0 *b3) {
  return (fmt_wmeta){b32_f16x4(b0, b1, b2, b3, 0)};
}

INLINE fmt_wmeta fmt_wmeta1(const block_q5_0 *b) { return (fmt_wmeta){wasm_f32x4_splat(f16_to_f32(b->d))}; }

/* The block's 5-bit values 0..31 as bytes (lo: values 0..15, hi: 16..31). */
INLINE void q5_0_values(const block_q5_0 *w, v128_t *lo, v128_t *hi) {
  v128_t hl, hh;
  b32_nibbles(w->qs, lo, hi);
  b32_high_bits(w->qh, &hl, &hh);
  *lo = wasm_v128_or(*lo, hl);
  *hi = wasm_v128_or(*hi, hh);
}

#if MOECODE_RELAXED_SIMD
#define FMT_X_I8 1
INLINE v128_t fmt_dot(const block_q5_0 *w, const v128_t *x) {
  v128_t lo, hi;
  q5_0_values(w, &lo, &hi);
  return b32_dot_u6_relaxed(lo, hi, x);
}
#else
INLINE v128_t fmt_dot(const block_q5_0 *w, const v128_t *x) {
  v128_t lo, hi;
  q5_0_values(w, &lo, &hi);
  return b32_dot_u8(lo, hi, x);
}
#endif

INLINE v128_t fmt_combine(v128_t isum, fmt_wmeta w, v128_t dx, v128_t xsum, v128_t xs) {
  (void)xs;
  const v128_t q = wasm_i32x4_sub(isum, wasm_i32x4_shl(xsum, 4));
  return wasm_f32x4_mul(wasm_f32x4_convert_i32x4(q), wasm_f32x4_mul(w.d, dx));
}

#include "matmul-q8.h"

void EXPORT(dequantize_row_q5_0)(const void *src, float *y, int n) {
  const block_q5_0 *x = src;
  for (int i = 0; i < n / 32; i++) {
    v128_t lo, hi;
    q5_0_values(&x[i], &lo, &hi);
    b32_store_scaled(y + 32 * i, lo, hi, 0, wasm_i16x8_splat(-16), wasm_f32x4_splat(f16_to_f32(x[i].d)), 0, wasm_f32x4_splat(0));
  }
}
