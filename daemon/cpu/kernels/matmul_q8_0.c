/*
 * Q8_0 weights (block_q8_0: f16 d, 32 int8; x = q * d) against q8_0 activations: the block's integer
 * dot product times d_w * d_x (ggml_vec_dot_q8_0_q8_0).
 */
#include "common.h"

#define FMT_NAME q8_0
#define FMT_BLOCK block_q8_0
#define FMT_ACT_Q8_1 0

typedef struct {
  v128_t d;
} fmt_wmeta;

INLINE fmt_wmeta fmt_wmeta4(const block_q8_0 *b0, const block_q8_0 *b1, const block_q8_0 *b2, const block_q8_0 *b3) {
  const v128_t h = wasm_i32x4_make(b0->d << 16, b1->d << 16, b2->d << 16, b3->d << 16);
  return (fmt_wmeta){f16hi_to_f32x4(h)};
}

INLINE fmt_wmeta fmt_wmeta1(const block_q8_0 *b) { return (fmt_wmeta){wasm_f32x4_splat(f16_to_f32(b->d))}; }

/* int8 pairs split into even (sign-extended low byte) and odd (arithmetic shift of the high byte) i16.
 * (The relaxed int8 dot product needs one operand in 0..127; making signed weights so costs a sign
 * transfer per token that eats the gain, so the relaxed build keeps this path.) */
INLINE v128_t fmt_dot(const block_q8_0 *w, const v128_t *x) {
  const v128_t v0 = wasm_v128_load(w->qs);
  const v128_t v1 = wasm_v128_load(w->qs + 16);
  const v128_t q0 = wasm_i16x8_shr(wasm_i16x8_shl(v0, 8), 8); /* value 2k */
  const v128_t q1 = wasm_i16x8_shr(wasm_i16x8_shl(v1, 8), 8); /* value 2k + 16 */
  const v128_t q2 = wasm_i16x8_shr(v0, 8);                    /* value 2k + 1 */
  const v128_t q3 = wasm_i16x8_shr(v1, 8);                    /* value 2k + 17 */
  return wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_dot_i16x8(q0, x[0]), wasm_i32x4_dot_i16x8(q1, x[1])),
                        wasm_i32x4_add(wasm_i32x4_dot_i16x8(q2, x[2]), wasm_i32x4_dot_i16x8(q3, x[3])));
}

INLINE v128_t fmt_combine(v128_t isum, fmt_wmeta w, v128_t dx, v128_t xsum, v128_t xs) {
  (void)xsum;
  (void)xs;
  return wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum), wasm_f32x4_mul(w.d, dx));
}

#include "matmul-q8.h"

void EXPORT(dequantize_row_q8_0)(const void *src, float *y, int n) {
  const block_q8_0 *x = src;
  for (int i = 0; i < n / QK8_0; i++) {
    const v128_t d = wasm_f32x4_splat(f16_to_f32(x[i].d));
    float *o = y + i * QK8_0;
    for (int k = 0; k < 2; k++) {
      const v128_t v = wasm_v128_load(x[i].qs + 16 * k);
      const v128_t lo = wasm_i16x8_extend_low_i8x16(v), hi = wasm_i16x8_extend_high_i8x16(v);
      wasm_v128_store(o + 16 * k, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(lo)), d));
      wasm_v128_store(o + 16 * k + 4, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(lo)), d));
      wasm_v128_store(o + 16 * k + 8, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_low_i16x8(hi)), d));
      wasm_v128_store(o + 16 * k + 12, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_i32x4_extend_high_i16x8(hi)), d));
    }
  }
}
