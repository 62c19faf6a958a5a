/*
 * IQ4_XS weights (136 bytes per 256 values: f16 d, 8 six-bit scales as 2 + 4 bits, 128 bytes of 4-bit
 * indices into IQ4_NL's grid; daemon/formats/iq4_xs.ts) against q8_K activations: per sub-block of 32,
 * (ls − 32) · Σ grid[index]·q_x (ggml_vec_dot_iq4_xs_q8_K); the grid lookup is one i8x16.swizzle.
 */
#include "qk-common.h"

typedef struct {
  uint16_t d;
  uint16_t scales_h;    /* bits 2s..2s+1: the top 2 bits of sub-block s's scale */
  uint8_t scales_l[4];  /* the low 4 bits: sub-block s in byte s/2, low nibble for even s */
  uint8_t qs[128];      /* byte 16s + j: value 32s + j (low nibble), 32s + 16 + j (high nibble) */
} block_iq4_xs;
_Static_assert(sizeof(block_iq4_xs) == 136, "block_iq4_xs size");

#define FMT_NAME iq4_xs
#define FMT_BLOCK block_iq4_xs
#define FMT_SUB 32
#define FMT_SIGNED 1

/* ls[s] − 32 in i16 lane s. Each lane isolates its bits with a multiply (a left shift by a per-lane amount)
 * and a right shift: low nibble (b << 12) >> 12 or (b << 8) >> 12 of scales_l byte s/2, high bits
 * (scales_h << (14 − 2s)) >> 14. */
INLINE void fmt_scales(const block_iq4_xs *w, qk_scales *s) {
  const v128_t l = wasm_v128_load32_zero(w->scales_l);
  const v128_t b = wasm_i8x16_shuffle(l, wasm_i8x16_splat(0), 0, 16, 0, 16, 1, 16, 1, 16, 2, 16, 2, 16, 3, 16, 3, 16);
  const v128_t low = wasm_u16x8_shr(wasm_i16x8_mul(b, wasm_i16x8_make(4096, 256, 4096, 256, 4096, 256, 4096, 256)), 12);
  const v128_t h = wasm_i16x8_splat((int16_t)w->scales_h);
  const v128_t high = wasm_u16x8_shr(wasm_i16x8_mul(h, wasm_i16x8_make(1 << 14, 1 << 12, 1 << 10, 1 << 8, 1 << 6, 1 << 4, 1 << 2, 1)), 14);
  s->sc[0] = wasm_i16x8_sub(wasm_v128_or(low, wasm_i16x8_shl(high, 4)), wasm_i16x8_splat(32));
}

/* Group g: the low (even g) or high nibbles of qs[16·(g/2) ..], looked up in the grid. */
INLINE v128_t fmt_group(const block_iq4_xs *w, int g) {
  const v128_t grid = wasm_i8x16_make(-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113);
  const v128_t v = wasm_v128_load(w->qs + 16 * (g >> 1));
  return wasm_i8x16_swizzle(grid, wasm_v128_and(g & 1 ? wasm_u16x8_shr(v, 4) : v, wasm_i8x16_splat(0x0f)));
}

#include "matmul-qk.h"
