/*
 * f32 exp and tanh, four lanes at a time (no libm in the module). exp: range reduction by ln 2 and a
 * degree-7 Taylor polynomial, within ~1 ulp over the whole f32 range (subnormal results included); tanh
 * from expm1, within a few ulp. ggml's vectorised expf (ggml_v_expf) and libm tanhf differ from these by
 * float32 noise only.
 */
#ifndef MOECODE_CPU_MATHF_H
#define MOECODE_CPU_MATHF_H
#include "common.h"

INLINE v128_t exp_f32x4(v128_t x) {
  x = wasm_f32x4_min(wasm_f32x4_max(x, wasm_f32x4_splat(-104.0f)), wasm_f32x4_splat(89.0f)); /* NaN stays NaN */
  const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  v128_t r = wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693145751953125f)));
  r = wasm_f32x4_sub(r, wasm_f32x4_mul(n, wasm_f32x4_splat(1.428606765330187045e-06f)));
  v128_t p = wasm_f32x4_splat(1.0f / 5040);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 720));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  /* times 2^n in two factors, so n in [-150, 128] never leaves the exponent range */
  const v128_t ni = wasm_i32x4_trunc_sat_f32x4(n);
  const v128_t n1 = wasm_i32x4_shr(ni, 1);
  const v128_t n2 = wasm_i32x4_sub(ni, n1);
  const v128_t s1 = wasm_i32x4_shl(wasm_i32x4_add(n1, wasm_i32x4_splat(127)), 23);
  const v128_t s2 = wasm_i32x4_shl(wasm_i32x4_add(n2, wasm_i32x4_splat(127)), 23);
  return wasm_f32x4_mul(wasm_f32x4_mul(p, s1), s2);
}

/* e^y - 1 for y >= 0 (small y without cancellation). */
INLINE v128_t expm1_pos_f32x4(v128_t y) {
  v128_t p = wasm_f32x4_splat(1.0f / 40320);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, y), wasm_f32x4_splat(1.0f / 5040));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, y), wasm_f32x4_splat(1.0f / 720));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, y), wasm_f32x4_splat(1.0f / 120));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, y), wasm_f32x4_splat(1.0f / 24));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, y), wasm_f32x4_splat(1.0f / 6));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, y), wasm_f32x4_splat(0.5f));
  const v128_t small = wasm_f32x4_mul(wasm_f32x4_add(wasm_f32x4_mul(p, y), wasm_f32x4_splat(1.0f)), y);
  const v128_t big = wasm_f32x4_sub(exp_f32x4(y), wasm_f32x4_splat(1.0f));
  return wasm_v128_bitselect(small, big, wasm_f32x4_lt(y, wasm_f32x4_splat(0.34657359f)));
}

INLINE v128_t tanh_f32x4(v128_t x) {
  const v128_t sign = wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000));
  const v128_t ax = wasm_f32x4_min(wasm_f32x4_abs(x), wasm_f32x4_splat(9.5f)); /* tanh(9.5) rounds to 1 */
  const v128_t em = expm1_pos_f32x4(wasm_f32x4_add(ax, ax));
  return wasm_v128_or(wasm_f32x4_div(em, wasm_f32x4_add(em, wasm_f32x4_splat(2.0f))), sign);
}

INLINE float expf_(float x) { return wasm_f32x4_extract_lane(exp_f32x4(wasm_f32x4_splat(x)), 0); }
INLINE float tanhf_(float x) { return wasm_f32x4_extract_lane(tanh_f32x4(wasm_f32x4_splat(x)), 0); }

#endif
