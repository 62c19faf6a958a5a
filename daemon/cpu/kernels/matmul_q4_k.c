/*
 * Q4_K weights (144 bytes per 256 values: f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of
 * nibbles; daemon/formats/q4_k.ts) against q8_K activations: per sub-block of 32, sc · Σ q·q_x, and the
 * mins through the activation's bsums (ggml_vec_dot_q4_K_q8_K). x = (d·sc)·q − dmin·m, q = 0..15.
 */
#include "qk-common.h"
#include "scale-min-k4.h"

typedef struct {
  uint16_t d;           /* f16 scale of the scales */
  uint16_t dmin;        /* f16 scale of the mins */
  uint8_t scales[12];   /* sc[8], m[8], 6 bits each (scale-min-k4.h) */
  uint8_t qs[128];      /* byte 32c + l: value 64c + l (low nibble), 64c + 32 + l (high nibble) */
} block_q4_K;
_Static_assert(sizeof(block_q4_K) == 144, "block_q4_K size");

#define FMT_NAME q4_K
#define FMT_BLOCK block_q4_K
#define FMT_SUB 32
#define FMT_MINS 1

INLINE void fmt_scales(const block_q4_K *w, qk_scales *s) { scale_min_k4(w->scales, &s->sc[0], &s->mn[0]); }

/* Group g: values 16g..16g+15 = chunk c = g/4, bytes 16·(g & 1).., low nibbles for g & 2 == 0. */
INLINE v128_t fmt_group(const block_q4_K *w, int g) {
  const v128_t v = wasm_v128_load(w->qs + 32 * (g >> 2) + 16 * (g & 1));
  return wasm_v128_and(g & 2 ? wasm_u16x8_shr(v, 4) : v, wasm_i8x16_splat(0x0f));
}

#include "matmul-qk.h"
