/*
 * Activation conversion before a matmul (ggml-cpu's from_float for each vec_dot_type), with the rounding
 * llama.cpp's x86 build uses:
 *  - q8_0 (arch/x86/quants.c quantize_row_q8_0, AVX2): amax = max|x|, d = amax/127 stored as f16,
 *    id = 127/amax (0 when amax is 0), q = round_half_even(x * id).
 *  - q8_1 (quantize_row_q8_1, AVX2): as q8_0, plus s = f16(d * sum(q)) with the f32 d.
 *  - q8_K (ggml-quants.c quantize_row_q8_K_ref, which x86 calls): per 256 values, max = the value of
 *    largest magnitude (first one on ties), iscale = -127/max, q = min(127, round_half_even(iscale * x)),
 *    d = 1/iscale (f32), bsums = sums of q per 16. An all-zero block gets d = 0, q = 0, bsums = 0 (ggml
 *    leaves its bsums unwritten).
 *  - f16 / bf16: round to nearest even (F16C, GGML_FP32_TO_BF16).
 */
#include "common.h"

/* max |x| over 32 values. */
INLINE float amax32(const float *x) {
  v128_t m = wasm_f32x4_abs(wasm_v128_load(x));
  for (int j = 4; j < 32; j += 4) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(x + j)));
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
  m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(m, 0);
}

/* q[j] = round_half_even(x[j] * id) for 16 values, as int8; returns them and adds their i32 sums to *sum. */
INLINE v128_t round16(const float *x, v128_t id, v128_t *sum) {
  const v128_t i0 = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x), id)));
  const v128_t i1 = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + 4), id)));
  const v128_t i2 = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + 8), id)));
  const v128_t i3 = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + 12), id)));
  *sum = wasm_i32x4_add(*sum, wasm_i32x4_add(wasm_i32x4_add(i0, i1), wasm_i32x4_add(i2, i3)));
  return wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(i0, i1), wasm_i16x8_narrow_i32x4(i2, i3));
}

/* One block of 32: qs and the f32 d; returns sum(q). */
INLINE int quantize_block_q8(const float *x, int8_t *qs, float *d_out) {
  const float amax = amax32(x);
  const float d = amax / 127.f;
  const v128_t id = wasm_f32x4_splat(amax != 0.0f ? 127.f / amax : 0.0f);
  v128_t sum = wasm_i32x4_splat(0);
  wasm_v128_store(qs, round16(x, id, &sum));
  wasm_v128_store(qs + 16, round16(x + 16, id, &sum));
  *d_out = d;
  sum = wasm_i32x4_add(sum, wasm_i32x4_shuffle(sum, sum, 2, 3, 0, 1));
  sum = wasm_i32x4_add(sum, wasm_i32x4_shuffle(sum, sum, 1, 0, 3, 2));
  return wasm_i32x4_extract_lane(sum, 0);
}

void EXPORT(quantize_row_q8_0)(const float *x, void *vy, int n) {
  block_q8_0 *y = vy;
  for (int i = 0; i < n / QK8_0; i++) {
    float d;
    quantize_block_q8(x + i * QK8_0, y[i].qs, &d);
    y[i].d = f32_to_f16(d);
  }
}

void EXPORT(quantize_row_q8_1)(const float *x, void *vy, int n) {
  block_q8_1 *y = vy;
  for (int i = 0; i < n / QK8_1; i++) {
    float d;
    const int sum = quantize_block_q8(x + i * QK8_1, y[i].qs, &d);
    y[i].d = f32_to_f16(d);
    y[i].s = f32_to_f16(d * (float)sum);
  }
}

void EXPORT(quantize_row_q8_K)(const float *x, void *vy, int n) {
  block_q8_K *y = vy;
  for (int i = 0; i < n / QK_K; i++, x += QK_K) {
    /* the value of largest magnitude, the first one on ties (ggml: `if (ax > amax)`) */
    v128_t m = wasm_f32x4_abs(wasm_v128_load(x));
    for (int j = 4; j < QK_K; j += 4) m = wasm_f32x4_pmax(m, wasm_f32x4_abs(wasm_v128_load(x + j)));
    m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 2, 3, 0, 1));
    m = wasm_f32x4_pmax(m, wasm_i32x4_shuffle(m, m, 1, 0, 3, 2));
    const float amax = wasm_f32x4_extract_lane(m, 0);
    if (!(amax > 0.0f)) {
      y[i].d = 0;
      __builtin_memset(y[i].qs, 0, sizeof y[i].qs + sizeof y[i].bsums);
      continue;
    }
    float max = 0;
    for (int j = 0; j < QK_K; j++) {
      if (__builtin_fabsf(x[j]) == amax) {
        max = x[j];
        break;
      }
    }
    const float iscale = -127.f / max;
    const v128_t is = wasm_f32x4_splat(iscale);
    const v128_t hi = wasm_i32x4_splat(127);
    for (int j = 0; j < QK_K; j += 16) {
      v128_t q[4];
      for (int k = 0; k < 4; k++) {
        q[k] = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + j + 4 * k), is)));
        q[k] = wasm_i32x4_min(q[k], hi);
      }
      const v128_t s = wasm_i32x4_add(wasm_i32x4_add(q[0], q[1]), wasm_i32x4_add(q[2], q[3]));
      const v128_t s2 = wasm_i32x4_add(s, wasm_i32x4_shuffle(s, s, 2, 3, 0, 1));
      y[i].bsums[j / 16] = (int16_t)(wasm_i32x4_extract_lane(s2, 0) + wasm_i32x4_extract_lane(s2, 1));
      wasm_v128_store(y[i].qs + j, wasm_i8x16_narrow_i16x8(wasm_i16x8_narrow_i32x4(q[0], q[1]), wasm_i16x8_narrow_i32x4(q[2], q[3])));
    }
    y[i].d = 1 / iscale;
  }
}

void EXPORT(convert_row_f16)(const float *x, uint16_t *y, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const v128_t lo = f32x4_to_f16x4(wasm_v128_load(x + i));
    const v128_t hi = f32x4_to_f16x4(wasm_v128_load(x + i + 4));
    wasm_v128_store(y + i, wasm_i16x8_shuffle(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14));
  }
  for (; i < n; i++) y[i] = f32_to_f16(x[i]);
}

void EXPORT(convert_row_bf16)(const float *x, uint16_t *y, int n) {
  int i = 0;
  for (; i + 8 <= n; i += 8) {
    const v128_t lo = f32x4_to_bf16x4(wasm_v128_load(x + i));
    const v128_t hi = f32x4_to_bf16x4(wasm_v128_load(x + i + 4));
    wasm_v128_store(y + i, wasm_i16x8_shuffle(lo, hi, 0, 2, 4, 6, 8, 10, 12, 14));
  }
  for (; i < n; i++) y[i] = f32_to_bf16(x[i]);
}
