/*
 * Q5_K weights (176 bytes per 256 values: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 32 bytes of
 * fifth bits, 128 bytes of nibbles; daemon/formats/q5_k.ts) against q8_K activations, as Q4_K with
 * q = 0..31 (ggml_vec_dot_q5_K_q8_K).
 */
#include "qk-common.h"
#include "scale-min-k4.h"

typedef struct {
  uint16_t d;
  uint16_t dmin;
  uint8_t scales[12];   /* as Q4_K */
  uint8_t qh[32];       /* bit s of byte l: the fifth bit (16) of value 32s + l */
  uint8_t qs[128];      /* low 4 bits, laid out as Q4_K's */
} block_q5_K;
_Static_assert(sizeof(block_q5_K) == 176, "block_q5_K size");

#define FMT_NAME q5_K
#define FMT_BLOCK block_q5_K
#define FMT_SUB 32
#define FMT_MINS 1

INLINE void fmt_scales(const block_q5_K *w, qk_scales *s) { scale_min_k4(w->scales, &s->sc[0], &s->mn[0]); }

/* Group g: the nibbles as Q4_K's, plus bit (2·(g/4) + (g&2)/2) of qh bytes 16·(g & 1).. moved to bit 4
 * (16-bit shifts move each byte's bit within the byte: the mask keeps bits 4 and 12). */
INLINE v128_t fmt_group(const block_q5_K *w, int g) {
  const int half = g & 1, sub = 2 * (g >> 2) + ((g >> 1) & 1);
  const v128_t v = wasm_v128_load(w->qs + 32 * (g >> 2) + 16 * half);
  const v128_t h = wasm_v128_load(w->qh + 16 * half);
  const v128_t lo = wasm_v128_and(g & 2 ? wasm_u16x8_shr(v, 4) : v, wasm_i8x16_splat(0x0f));
  return wasm_v128_or(lo, wasm_v128_and(qk_shift16(h, 4 - sub), wasm_i8x16_splat(0x10)));
}

#include "matmul-qk.h"
