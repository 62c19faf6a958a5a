/*
 * IQ4_NL weights (f16 d, 16 bytes of 4-bit indices into ggml's kvalues_iq4nl; x = d·kvalues[index])
 * against q8_0 activations, as ggml_vec_dot_iq4_nl_q8_0: per block d_w·d_x·Σ kvalues[i_w]·q_x. The table
 * lookup is a byte swizzle of kvalues + 128 (unsigned bytes 1..241); the offset comes back out as
 * 128·Σ q_x. (The values do not fit the relaxed int8 dot's 7-bit operand, so both builds multiply in i16.)
 */
#include "block32.h"

typedef struct {
  uint16_t d;     /* f16 scale */
  uint8_t qs[16]; /* byte j: index of value j (low nibble), of value j + 16 (high nibble) */
} block_iq4_nl;   /* 18 bytes */
_Static_assert(sizeof(block_iq4_nl) == 18, "block_iq4_nl size");

/* kvalues_iq4nl: -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113 (the values). */
#define IQ4NL_VALUES -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113
#define IQ4NL_OFFSET 128

#define FMT_NAME iq4_nl
#define FMT_BLOCK block_iq4_nl
#define FMT_ACT_Q8_1 0

typedef struct {
  v128_t d;
} fmt_wmeta;

INLINE fmt_wmeta fmt_wmeta4(const block_iq4_nl *b0, const block_iq4_nl *b1, const block_iq4_nl *b2, const block_iq4_nl *b3) {
  return (fmt_wmeta){b32_f16x4(b0, b1, b2, b3, 0)};
}

INLINE fmt_wmeta fmt_wmeta1(const block_iq4_nl *b) { return (fmt_wmeta){wasm_f32x4_splat(f16_to_f32(b->d))}; }

/* kvalues + 128 as unsigned bytes. */
#define IQ4NL_U8(v) (uint8_t)((v) + IQ4NL_OFFSET)
#define IQ4NL_TABLE_U8                                                                                                                              \
  wasm_u8x16_make(IQ4NL_U8(-127), IQ4NL_U8(-104), IQ4NL_U8(-83), IQ4NL_U8(-65), IQ4NL_U8(-49), IQ4NL_U8(-35), IQ4NL_U8(-22), IQ4NL_U8(-10),            \
                  IQ4NL_U8(1), IQ4NL_U8(13), IQ4NL_U8(25), IQ4NL_U8(38), IQ4NL_U8(53), IQ4NL_U8(69), IQ4NL_U8(89), IQ4NL_U8(113))

INLINE v128_t fmt_dot(const block_iq4_nl *w, const v128_t *x) {
  v128_t lo, hi;
  b32_nibbles(w->qs, &lo, &hi);
  const v128_t t = IQ4NL_TABLE_U8;
  return b32_dot_u8(b32_lookup(t, lo), b32_lookup(t, hi), x);
}

INLINE v128_t fmt_combine(v128_t isum, fmt_wmeta w, v128_t dx, v128_t xsum, v128_t xs) {
  (void)xs;
  const v128_t q = wasm_i32x4_sub(isum, wasm_i32x4_shl(xsum, 7));
  return wasm_f32x4_mul(wasm_f32x4_convert_i32x4(q), wasm_f32x4_mul(w.d, dx));
}

#include "matmul-q8.h"

void EXPORT(dequantize_row_iq4_nl)(const void *src, float *y, int n) {
  const block_iq4_nl *x = src;
  const v128_t t = wasm_i8x16_make(IQ4NL_VALUES);
  for (int i = 0; i < n / 32; i++) {
    v128_t lo, hi;
    b32_nibbles(x[i].qs, &lo, &hi);
    b32_store_scaled(y + 32 * i, b32_lookup(t, lo), b32_lookup(t, hi), 1, wasm_i16x8_splat(0), wasm_f32x4_splat(f16_to_f32(x[i].d)), 0, wasm_f32x4_splat(0));
  }
}
