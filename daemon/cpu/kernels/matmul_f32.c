/* F32 weights against f32 activations (ggml_vec_dot_f32). */
#include "common.h"

#define FMT_NAME f32
#define FMT_ELEM_BYTES 4

INLINE void fmt_load8(const void *row, int k, v128_t *lo, v128_t *hi) {
  const float *p = (const float *)row + k;
  *lo = wasm_v128_load(p);
  *hi = wasm_v128_load(p + 4);
}

INLINE float fmt_load1(const void *row, int k) { return ((const float *)row)[k]; }

#include "matmul-float.h"

void EXPORT(dequantize_row_f32)(const void *src, float *y, int n) { __builtin_memmove(y, src, (size_t)n * 4); }
