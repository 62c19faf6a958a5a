/*
 * Q4_1 weights (f16 d, f16 m, 16 bytes of nibbles; x = q·d + m, q in 0..15) against q8_1 activations,
 * as ggml_vec_dot_q4_1_q8_1: per block d_w·d_x·Σ q_w·q_x + m_w·s_x, where s_x is the activation block's
 * stored f16 sum (not Σ of its dequantised values).
 */
#include "block32.h"

typedef struct {
  uint16_t d;     /* f16 scale */
  uint16_t m;     /* f16 min */
  uint8_t qs[16]; /* byte j: value j (low nibble), value j + 16 (high nibble) */
} block_q4_1;     /* 20 bytes */
_Static_assert(sizeof(block_q4_1) == 20, "block_q4_1 size");

#define FMT_NAME q4_1
#define FMT_BLOCK block_q4_1
#define FMT_ACT_Q8_1 1

typedef struct {
  v128_t d, m;
} fmt_wmeta;

INLINE fmt_wmeta fmt_wmeta4(const block_q4_1 *b0, const block_q4_1 *b1, const block_q4_1 *b2, const block_q4_1 *b3) {
  fmt_wmeta w;
  b32_f16x4_pair(b0, b1, b2, b3, &w.d, &w.m);
  return w;
}

INLINE fmt_wmeta fmt_wmeta1(const block_q4_1 *b) { return (fmt_wmeta){wasm_f32x4_splat(f16_to_f32(b->d)), wasm_f32x4_splat(f16_to_f32(b->m))}; }

#if MOECODE_RELAXED_SIMD
#define FMT_X_I8 1
INLINE v128_t fmt_dot(const block_q4_1 *w, const v128_t *x) {
  v128_t lo, hi;
  b32_nibbles(w->qs, &lo, &hi);
  return b32_dot_u6_relaxed(lo, hi, x);
}
#else
INLINE v128_t fmt_dot(const block_q4_1 *w, const v128_t *x) { return b32_dot_nibbles(w->qs, x); }
#endif

INLINE v128_t fmt_combine(v128_t isum, fmt_wmeta w, v128_t dx, v128_t xsum, v128_t xs) {
  (void)xsum;
  return wasm_f32x4_add(wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(w.d, dx)), wasm_f32x4_mul(w.m, xs));
}

#include "matmul-q8.h"

void EXPORT(dequantize_row_q4_1)(const void *src, float *y, int n) {
  const block_q4_1 *x = src;
  for (int i = 0; i < n / 32; i++) {
    v128_t lo, hi;
    b32_nibbles(x[i].qs, &lo, &hi);
    b32_store_scaled(y + 32 * i, lo, hi, 0, wasm_i16x8_splat(0), wasm_f32x4_splat(f16_to_f32(x[i].d)), 1, wasm_f32x4_splat(f16_to_f32(x[i].m)));
  }
}
