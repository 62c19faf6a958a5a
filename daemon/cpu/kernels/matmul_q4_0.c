/*
 * Q4_0 weights (block_q4_0: f16 d, 16 bytes of nibbles; x = (nibble - 8) * d) against q8_0 activations:
 * the block's integer dot product is sum(nibble * q) - 8 * sum(q), times d_w * d_x (ggml_vec_dot_q4_0_q8_0).
 */
#include "common.h"

#define FMT_NAME q4_0
#define FMT_BLOCK block_q4_0
#define FMT_ACT_Q8_1 0

typedef struct {
  v128_t d;
} fmt_wmeta;

INLINE fmt_wmeta fmt_wmeta4(const block_q4_0 *b0, const block_q4_0 *b1, const block_q4_0 *b2, const block_q4_0 *b3) {
  const v128_t h = wasm_i32x4_make(b0->d << 16, b1->d << 16, b2->d << 16, b3->d << 16);
  return (fmt_wmeta){f16hi_to_f32x4(h)};
}

INLINE fmt_wmeta fmt_wmeta1(const block_q4_0 *b) { return (fmt_wmeta){wasm_f32x4_splat(f16_to_f32(b->d))}; }

#if MOECODE_RELAXED_SIMD
#define FMT_X_I8 1
/* Nibbles (values 0..15, so every engine computes the relaxed dot exactly: pmaddubsw on x86, sdot/smull
 * on Arm) against the raw int8 activations; pair sums stay far inside i16 (2 * 127 * 15 * 2). */
INLINE v128_t fmt_dot(const block_q4_0 *w, const v128_t *x) {
  const v128_t v = wasm_v128_load(w->qs);
  const v128_t m = wasm_i8x16_splat(0x0f);
  const v128_t lo = wasm_v128_and(v, m);                   /* values 0..15 */
  const v128_t hi = wasm_v128_and(wasm_u16x8_shr(v, 4), m); /* values 16..31 */
  const v128_t s16 = wasm_i16x8_add(wasm_i16x8_relaxed_dot_i8x16_i7x16(x[0], lo), wasm_i16x8_relaxed_dot_i8x16_i7x16(x[1], hi));
  return wasm_i32x4_extadd_pairwise_i16x8(s16);
}
#else
/* Nibbles as i16 lanes in pair-split order: byte pair k of qs holds values 2k, 2k+16 (byte 2k) and
 * 2k+1, 2k+17 (byte 2k+1). */
INLINE v128_t fmt_dot(const block_q4_0 *w, const v128_t *x) {
  const v128_t v = wasm_v128_load(w->qs);
  const v128_t m = wasm_i16x8_splat(0x000f);
  const v128_t q0 = wasm_v128_and(v, m);                   /* value 2k */
  const v128_t q1 = wasm_v128_and(wasm_u16x8_shr(v, 4), m); /* value 2k + 16 */
  const v128_t q2 = wasm_v128_and(wasm_u16x8_shr(v, 8), m); /* value 2k + 1 */
  const v128_t q3 = wasm_u16x8_shr(v, 12);                  /* value 2k + 17 */
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(q0, x[0]), wasm_i32x4_dot_i16x8(q1, x[1])),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(q2, x[2]), wasm_i32x4_dot_i16x8(q3, x[3])));
}
#endif

INLINE v128_t fmt_combine(v128_t isum, fmt_wmeta w, v128_t dx, v128_t xsum, v128_t xs) {
  (void)xs;
  const v128_t q = wasm_i32x4_sub(isum, wasm_i32x4_shl(xsum, 3));
  return wasm_f32x4_mul(wasm_f32x4_convert_i32x4(q), wasm_f32x4_mul(w.d, dx));
}

#include "matmul-q8.h"

void EXPORT(dequantize_row_q4_0)(const void *src, float *y, int n) {
  const block_q4_0 *x = src;
  for (int i = 0; i < n / QK4_0; i++) {
    const v128_t d = wasm_f32x4_splat(f16_to_f32(x[i].d));
    const v128_t v = wasm_v128_load(x[i].qs);
    const v128_t lo = wasm_i8x16_sub(wasm_v128_and(v, wasm_i8x16_splat(0x0f)), wasm_i8x16_splat(8));
    const v128_t hi = wasm_i8x16_sub(wasm_u8x16_shr(v, 4), wasm_i8x16_splat(8));
    const v128_t halves[4] = {wasm_i16x8_extend_low_i8x16(lo), wasm_i16x8_extend_high_i8x16(lo), wasm_i16x8_extend_low_i8x16(hi),
                              wasm_i16x8_extend_high_i8x16(hi)};
    float *o = y + i * QK4_0;
    for (int k = 0; k < 4; k++) {
      wasm_v128_store(o + 8 * k, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(halves[k])), d));
      wasm_v128_store(o + 8 * k + 4, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(halves[k])), d));
    }
  }
}
