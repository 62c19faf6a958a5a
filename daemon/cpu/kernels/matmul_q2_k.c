/*
 * Q2_K weights (84 bytes per 256 values: 16 bytes of 4-bit scales and mins, 64 bytes of bit pairs, f16 d,
 * f16 dmin; daemon/formats/q2_k.ts) against q8_K activations: per sub-block of 16, sc · Σ q·q_x, and the
 * mins through the activation's bsums (ggml_vec_dot_q2_K_q8_K). x = (d·sc)·q − dmin·m, q = 0..3.
 */
#include "qk-common.h"

typedef struct {
  uint8_t scales[16];   /* sub-block s: sc = low nibble, m = high nibble */
  uint8_t qs[64];       /* bits 2j..2j+1 of byte 32h + l: value 128h + 32j + l */
  uint16_t d;
  uint16_t dmin;
} block_q2_K;
_Static_assert(sizeof(block_q2_K) == 84, "block_q2_K size");

#define FMT_NAME q2_K
#define FMT_BLOCK block_q2_K
#define FMT_SUB 16
#define FMT_MINS 1

INLINE void fmt_scales(const block_q2_K *w, qk_scales *s) {
  const v128_t v = wasm_v128_load(w->scales);
  const v128_t sc = wasm_v128_and(v, wasm_i8x16_splat(0x0f)), mn = wasm_v128_and(wasm_u16x8_shr(v, 4), wasm_i8x16_splat(0x0f));
  s->sc[0] = wasm_u16x8_extend_low_u8x16(sc);
  s->sc[1] = wasm_u16x8_extend_high_u8x16(sc);
  s->mn[0] = wasm_u16x8_extend_low_u8x16(mn);
  s->mn[1] = wasm_u16x8_extend_high_u8x16(mn);
}

/* Group g = 8h + 2j + half: bits 2j.. of qs[32h + 16·half ..]. */
INLINE v128_t fmt_group(const block_q2_K *w, int g) {
  const int h = g >> 3, j = (g >> 1) & 3, half = g & 1;
  return wasm_v128_and(wasm_u16x8_shr(wasm_v128_load(w->qs + 32 * h + 16 * half), 2 * j), wasm_i8x16_splat(0x03));
}

#include "matmul-qk.h"
