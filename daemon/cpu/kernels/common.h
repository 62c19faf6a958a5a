/*
 * Shared by every kernel file: ggml's block structs, f16/bf16 conversions (scalar and 4 lanes at a time)
 * with the rounding ggml-cpu uses on x86 (F16C: round to nearest even), and small SIMD helpers.
 * Everything here is static inline: each .c file is one translation unit of the one wasm module.
 */
#ifndef MOECODE_CPU_COMMON_H
#define MOECODE_CPU_COMMON_H
#include <stddef.h>
#include <stdint.h>
#include <wasm_simd128.h>

#include "moecode-cpu.h"

#define INLINE static inline __attribute__((always_inline))

/* 1 in the relaxed-SIMD build (dist/moecode-cpu-relaxed.wasm: -mrelaxed-simd, clang >= 16). */
#ifndef MOECODE_RELAXED_SIMD
#define MOECODE_RELAXED_SIMD 0
#endif

/* --- ggml block layouts (ggml-common.h) ---------------------------------------------------------- */
#define QK4_0 32
#define QK8_0 32
#define QK8_1 32
#define QK_K 256

typedef struct {
  uint16_t d;       /* f16 scale */
  uint8_t qs[16];   /* byte j: value j (low nibble), value j + 16 (high nibble); x = (nibble - 8) * d */
} block_q4_0;       /* 18 bytes */

typedef struct {
  uint16_t d;       /* f16 scale */
  int8_t qs[32];
} block_q8_0;       /* 34 bytes */

typedef struct {
  uint16_t d;       /* f16 scale */
  uint16_t s;       /* f16 of d * sum(qs) */
  int8_t qs[32];
} block_q8_1;       /* 36 bytes */

typedef struct {
  float d;
  int8_t qs[QK_K];
  int16_t bsums[QK_K / 16]; /* sums of qs per 16 */
} block_q8_K;       /* 292 bytes */

_Static_assert(sizeof(block_q4_0) == 18, "block_q4_0 size");
_Static_assert(sizeof(block_q8_0) == 34, "block_q8_0 size");
_Static_assert(sizeof(block_q8_1) == 36, "block_q8_1 size");
_Static_assert(sizeof(block_q8_K) == 292, "block_q8_K size");

/* --- bit casts ------------------------------------------------------------------------------------ */
INLINE uint32_t f32_bits(float f) {
  uint32_t u;
  __builtin_memcpy(&u, &f, 4);
  return u;
}
INLINE float bits_f32(uint32_t u) {
  float f;
  __builtin_memcpy(&f, &u, 4);
  return f;
}
INLINE uint16_t load_u16(const void *p) {
  uint16_t v;
  __builtin_memcpy(&v, p, 2);
  return v;
}

/* --- f16 / bf16, scalar ---------------------------------------------------------------------------- */

/* IEEE half bits -> f32, exact (subnormals, inf and NaN included). */
INLINE float f16_to_f32(uint16_t h) {
  const uint32_t sign = (uint32_t)(h & 0x8000) << 16;
  const uint32_t em = h & 0x7fff;
  /* em << 13 is the f32 with the half's exponent bias (15); times 2^112 rebias to 127, exactly. */
  float f = bits_f32(em << 13) * 0x1p112f;
  if (em >= 0x7c00) f = bits_f32((em << 13) | 0x7f800000); /* inf, NaN (payload kept) */
  return bits_f32(f32_bits(f) | sign);
}

/* f32 -> IEEE half bits, round to nearest even; NaN -> quiet NaN 0x7e00 (with sign), overflow -> inf. */
INLINE uint16_t f32_to_f16(float f) {
  const uint32_t x = f32_bits(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t ax = x & 0x7fffffff;
  if (ax > 0x7f800000) return (uint16_t)(sign | 0x7e00);
  if (ax >= 0x477ff000) return (uint16_t)(sign | 0x7c00); /* >= 65520 rounds to inf */
  if (ax < 0x38800000) {
    /* below 2^-14: a half subnormal. Adding 0.5 puts the value's 2^-24 units in the low mantissa bits,
     * rounded to nearest even by the f32 addition. */
    const float t = bits_f32(ax) + 0.5f;
    return (uint16_t)(sign | (f32_bits(t) - 0x3f000000));
  }
  const uint32_t odd = (ax >> 13) & 1;
  return (uint16_t)(sign | ((ax - 0x38000000 + 0xfff + odd) >> 13));
}

INLINE float bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

/* ggml's GGML_FP32_TO_BF16: round to nearest even; NaN stays a quiet NaN. */
INLINE uint16_t f32_to_bf16(float f) {
  const uint32_t u = f32_bits(f);
  if ((u & 0x7fffffff) > 0x7f800000) return (uint16_t)((u >> 16) | 64);
  return (uint16_t)((u + (0x7fff + ((u >> 16) & 1))) >> 16);
}

/* --- f16 / bf16, 4 lanes ---------------------------------------------------------------------------- */

/* Four halves in the high 16 bits of each i32 lane (low bits zero) -> f32x4, exact. The arithmetic
 * shift by 3 puts sign, exponent and mantissa where an f32 with the half's exponent bias has them (the
 * sign also smears into bits 30..28, masked off); times 2^112 rebiases normals and subnormals exactly;
 * exponent 31 (inf, NaN) gets the f32 all-ones exponent instead. */
INLINE v128_t f16hi_to_f32x4(v128_t t) {
  const v128_t b = wasm_v128_and(wasm_i32x4_shr(t, 3), wasm_i32x4_splat((int32_t)0x8fffe000));
  const v128_t f = wasm_f32x4_mul(b, wasm_f32x4_splat(0x1p112f));
  const v128_t special = wasm_i32x4_eq(wasm_v128_and(b, wasm_i32x4_splat(0x0f800000)), wasm_i32x4_splat(0x0f800000));
  return wasm_v128_bitselect(wasm_v128_or(b, wasm_i32x4_splat(0x7f800000)), f, special);
}

/* Four halves in the low 16 bits of each i32 lane (high bits zero) -> f32x4, exact. */
INLINE v128_t f16x4_to_f32x4(v128_t h) { return f16hi_to_f32x4(wasm_i32x4_shl(h, 16)); }

/* Halves in the low / high four i16 lanes of v -> f32x4. */
INLINE v128_t f16x8_low_to_f32x4(v128_t v) { return f16hi_to_f32x4(wasm_i16x8_shuffle(wasm_i16x8_splat(0), v, 0, 8, 1, 9, 2, 10, 3, 11)); }
INLINE v128_t f16x8_high_to_f32x4(v128_t v) { return f16hi_to_f32x4(wasm_i16x8_shuffle(wasm_i16x8_splat(0), v, 4, 12, 5, 13, 6, 14, 7, 15)); }

/* f32x4 -> four halves in the low 16 bits of each i32 lane; same rounding as f32_to_f16. */
INLINE v128_t f32x4_to_f16x4(v128_t x) {
  const v128_t sign = wasm_v128_and(wasm_u32x4_shr(x, 16), wasm_i32x4_splat(0x8000));
  const v128_t ax = wasm_v128_and(x, wasm_i32x4_splat(0x7fffffff));
  /* normal range */
  const v128_t odd = wasm_v128_and(wasm_u32x4_shr(ax, 13), wasm_i32x4_splat(1));
  v128_t h = wasm_u32x4_shr(wasm_i32x4_add(wasm_i32x4_add(ax, wasm_i32x4_splat((int32_t)(0xfff - 0x38000000))), odd), 13);
  /* subnormal range: the 0.5 trick */
  const v128_t sub = wasm_i32x4_sub(wasm_f32x4_add(ax, wasm_f32x4_splat(0.5f)), wasm_i32x4_splat(0x3f000000));
  h = wasm_v128_bitselect(sub, h, wasm_u32x4_lt(ax, wasm_i32x4_splat(0x38800000)));
  h = wasm_v128_bitselect(wasm_i32x4_splat(0x7c00), h, wasm_u32x4_ge(ax, wasm_i32x4_splat(0x477ff000)));
  h = wasm_v128_bitselect(wasm_i32x4_splat(0x7e00), h, wasm_u32x4_gt(ax, wasm_i32x4_splat(0x7f800000)));
  return wasm_v128_or(h, sign);
}

/* f32x4 -> four bf16 in the low 16 bits of each i32 lane (GGML_FP32_TO_BF16). */
INLINE v128_t f32x4_to_bf16x4(v128_t x) {
  const v128_t lsb = wasm_v128_and(wasm_u32x4_shr(x, 16), wasm_i32x4_splat(1));
  const v128_t rounded = wasm_u32x4_shr(wasm_i32x4_add(x, wasm_i32x4_add(lsb, wasm_i32x4_splat(0x7fff))), 16);
  const v128_t nan = wasm_v128_or(wasm_u32x4_shr(x, 16), wasm_i32x4_splat(64));
  const v128_t is_nan = wasm_u32x4_gt(wasm_v128_and(x, wasm_i32x4_splat(0x7fffffff)), wasm_i32x4_splat(0x7f800000));
  return wasm_v128_and(wasm_v128_bitselect(nan, rounded, is_nan), wasm_i32x4_splat(0xffff));
}

/* bf16 in the low / high four i16 lanes of v -> f32x4 (a bf16 is the high half of an f32). */
INLINE v128_t bf16x8_low_to_f32x4(v128_t v) { return wasm_i16x8_shuffle(wasm_i16x8_splat(0), v, 0, 8, 1, 9, 2, 10, 3, 11); }
INLINE v128_t bf16x8_high_to_f32x4(v128_t v) { return wasm_i16x8_shuffle(wasm_i16x8_splat(0), v, 4, 12, 5, 13, 6, 14, 7, 15); }

/* --- reductions ------------------------------------------------------------------------------------ */

INLINE float hsum_f32x4(v128_t v) {
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
  v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
  return wasm_f32x4_extract_lane(v, 0);
}

/* Lane i of the result = the sum of the four lanes of a_i (i32). */
INLINE v128_t hsum4_i32x4(v128_t a0, v128_t a1, v128_t a2, v128_t a3) {
  const v128_t t0 = wasm_i32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
  const v128_t t1 = wasm_i32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
  return wasm_i32x4_add(wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5), wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
}

/* The same for f32 lanes. */
INLINE v128_t hsum4_f32x4(v128_t a0, v128_t a1, v128_t a2, v128_t a3) {
  const v128_t t0 = wasm_f32x4_add(wasm_i32x4_shuffle(a0, a1, 0, 4, 1, 5), wasm_i32x4_shuffle(a0, a1, 2, 6, 3, 7));
  const v128_t t1 = wasm_f32x4_add(wasm_i32x4_shuffle(a2, a3, 0, 4, 1, 5), wasm_i32x4_shuffle(a2, a3, 2, 6, 3, 7));
  return wasm_f32x4_add(wasm_i32x4_shuffle(t0, t1, 0, 1, 4, 5), wasm_i32x4_shuffle(t0, t1, 2, 3, 6, 7));
}

/* Stores lane i of v to y[i * stride] for i < n (n <= 4). */
INLINE void store_lanes_strided(float *y, size_t stride, v128_t v, int n) {
  y[0] = wasm_f32x4_extract_lane(v, 0);
  if (n > 1) y[stride] = wasm_f32x4_extract_lane(v, 1);
  if (n > 2) y[2 * stride] = wasm_f32x4_extract_lane(v, 2);
  if (n > 3) y[3 * stride] = wasm_f32x4_extract_lane(v, 3);
}

INLINE int min_int(int a, int b) { return a < b ? a : b; }

#endif
