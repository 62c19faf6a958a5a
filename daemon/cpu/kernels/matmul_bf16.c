/* BF16 weights against activations rounded to bf16 (convert_row_bf16; ggml_vec_dot_bf16: f32 products and sums). */
#include "common.h"

#define FMT_NAME bf16
#define FMT_ELEM_BYTES 2

INLINE void fmt_load8(const void *row, int k, v128_t *lo, v128_t *hi) {
  const v128_t v = wasm_v128_load((const uint16_t *)row + k);
  *lo = bf16x8_low_to_f32x4(v);
  *hi = bf16x8_high_to_f32x4(v);
}

INLINE float fmt_load1(const void *row, int k) { return bf16_to_f32(((const uint16_t *)row)[k]); }

#include "matmul-float.h"

void EXPORT(dequantize_row_bf16)(const void *src, float *y, int n) { mf_widen(src, y, n); }
