/* A read-bandwidth probe for the kernel benchmark: the sum of n f32 values. */
#include "common.h"

void EXPORT(stream_sum_f32)(const float *x, int n, float *out) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  for (int i = 0; i + 16 <= n; i += 16) {
    a0 = wasm_f32x4_add(a0, wasm_v128_load(x + i));
    a1 = wasm_f32x4_add(a1, wasm_v128_load(x + i + 4));
    a2 = wasm_f32x4_add(a2, wasm_v128_load(x + i + 8));
    a3 = wasm_f32x4_add(a3, wasm_v128_load(x + i + 12));
  }
  float s = hsum_f32x4(wasm_f32x4_add(wasm_f32x4_add(a0, a1), wasm_f32x4_add(a2, a3)));
  for (int i = n & ~15; i < n; i++) s += x[i];
  *out = s;
}
