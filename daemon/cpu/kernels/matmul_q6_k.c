/*
 * Q6_K weights (210 bytes per 256 values: 128 bytes of low nibbles, 64 of high bit pairs, 16 int8 scales,
 * f16 d; daemon/formats/q6_k.ts) against q8_K activations: per sub-block of 16, sc · Σ q·q_x with q = 0..63,
 * minus 32 · Σ sc · bsum (ggml_vec_dot_q6_K_q8_K). x = (d·sc)·(q − 32), sc signed (−128..127).
 */
#include "qk-common.h"

typedef struct {
  uint8_t ql[128];      /* half h, l < 32: ql[64h + l] = values 128h + l (low), 128h + 64 + l (high nibble);
                           ql[64h + 32 + l] = values 128h + 32 + l, 128h + 96 + l */
  uint8_t qh[64];       /* qh[32h + l]: bits 0-1, 2-3, 4-5, 6-7 = the high bits of values 128h + l, +32, +64, +96 */
  int8_t scales[16];    /* one per 16 values */
  uint16_t d;
} block_q6_K;
_Static_assert(sizeof(block_q6_K) == 210, "block_q6_K size");

#define FMT_NAME q6_K
#define FMT_BLOCK block_q6_K
#define FMT_SUB 16
#define FMT_OFFSET 32

INLINE void fmt_scales(const block_q6_K *w, qk_scales *s) {
  const v128_t v = wasm_v128_load(w->scales);
  s->sc[0] = wasm_i16x8_extend_low_i8x16(v);
  s->sc[1] = wasm_i16x8_extend_high_i8x16(v);
}

/* Group g = 8h + 2k + half: values 128h + 32k + 16·half ..; k = 0..3 picks the low/high nibble of ql[64h +
 * 32(k & 1) ..] and bits 2k..2k+1 of qh[32h ..], moved to bits 4-5. */
INLINE v128_t fmt_group(const block_q6_K *w, int g) {
  const int h = g >> 3, k = (g >> 1) & 3, half = g & 1;
  const v128_t l = wasm_v128_load(w->ql + 64 * h + 32 * (k & 1) + 16 * half);
  const v128_t hb = wasm_v128_load(w->qh + 32 * h + 16 * half);
  const v128_t lo = wasm_v128_and(k >= 2 ? wasm_u16x8_shr(l, 4) : l, wasm_i8x16_splat(0x0f));
  return wasm_v128_or(lo, wasm_v128_and(qk_shift16(hb, 4 - 2 * k), wasm_i8x16_splat(0x30)));
}

#include "matmul-qk.h"
