/*
 * Q3_K weights (110 bytes per 256 values: 32 bytes of high bits, 64 of low bit pairs, 12 bytes of 6-bit
 * scales, f16 d; daemon/formats/q3_k.ts) against q8_K activations: per sub-block of 16, (S − 32) · Σ q·q_x
 * with q = low + 4·high = 0..7, minus 4 · Σ (S − 32) · bsum (ggml_vec_dot_q3_K_q8_K: q − 4 = −4..3).
 */
#include "qk-common.h"

typedef struct {
  uint8_t hmask[32];    /* bit 4h + j of byte l: the high bit of value 128h + 32j + l */
  uint8_t qs[64];       /* bits 2j..2j+1 of byte 32h + l: the low bits of value 128h + 32j + l */
  uint8_t scales[12];   /* 16 six-bit scales S (daemon/formats/q3_k.ts q3kScale) */
  uint16_t d;
} block_q3_K;
_Static_assert(sizeof(block_q3_K) == 110, "block_q3_K size");

#define FMT_NAME q3_K
#define FMT_BLOCK block_q3_K
#define FMT_SUB 16
#define FMT_OFFSET 4

/* S[k] = low | high << 4: low = k < 8 ? s[k] & 15 : s[k-8] >> 4; high = (s[8 + k%4] >> 2·(k/4)) & 3.
 * The 12 bytes are read as 8 + 4 (a 16-byte load would pass the end of the last block). */
INLINE void fmt_scales(const block_q3_K *w, qk_scales *s) {
  const v128_t a = wasm_v128_load64_zero(w->scales);
  const v128_t low = wasm_v128_and(wasm_i8x16_shuffle(a, wasm_u16x8_shr(a, 4), 0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23), wasm_i8x16_splat(0x0f));
  /* lane i of t << (6 − 2i): bits 2i..2i+1 of each byte at bits 6..7, then at 4..5 */
  const v128_t t = wasm_v128_load32_splat(w->scales + 8);
  const v128_t high = wasm_u32x4_shr(wasm_v128_and(wasm_i32x4_mul(t, wasm_i32x4_make(64, 16, 4, 1)), wasm_i8x16_splat((int8_t)0xc0)), 2);
  const v128_t S = wasm_v128_or(low, high);
  s->sc[0] = wasm_i16x8_sub(wasm_u16x8_extend_low_u8x16(S), wasm_i16x8_splat(32));
  s->sc[1] = wasm_i16x8_sub(wasm_u16x8_extend_high_u8x16(S), wasm_i16x8_splat(32));
}

/* Group g = 8h + 2j + half: bits 2j.. of qs[32h + 16·half ..] and bit 4h + j of hmask[16·half ..] at bit 2. */
INLINE v128_t fmt_group(const block_q3_K *w, int g) {
  const int h = g >> 3, j = (g >> 1) & 3, half = g & 1;
  const v128_t q = wasm_v128_load(w->qs + 32 * h + 16 * half);
  const v128_t m = wasm_v128_load(w->hmask + 16 * half);
  const v128_t low = wasm_v128_and(wasm_u16x8_shr(q, 2 * j), wasm_i8x16_splat(0x03));
  return wasm_v128_or(low, wasm_v128_and(qk_shift16(m, 2 - (4 * h + j)), wasm_i8x16_splat(0x04)));
}

#include "matmul-qk.h"
