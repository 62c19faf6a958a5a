/*
 * What the formats on q8_K activations (matmul_q2_k.c .. matmul_iq4_xs.c) share with matmul-qk.h before
 * including it: the type their fmt_scales fills, and small helpers of their fmt_group.
 */
#ifndef MOECODE_QK_COMMON_H
#define MOECODE_QK_COMMON_H
#include "common.h"

/* Sub-block scales of one weight block as i16 lanes: sc[0] lanes 0..7 = sub-blocks 0..7, sc[1] = 8..15
 * (16-value sub-blocks); mn likewise, the mins (FMT_MINS). */
typedef struct {
  v128_t sc[2];
  v128_t mn[2];
} qk_scales;

/* i16x8 with lane `lane` of v in every lane (lane is a constant after unrolling). */
INLINE v128_t qk_splat16(v128_t v, int lane) {
  switch (lane) {
    case 0: return wasm_i16x8_shuffle(v, v, 0, 0, 0, 0, 0, 0, 0, 0);
    case 1: return wasm_i16x8_shuffle(v, v, 1, 1, 1, 1, 1, 1, 1, 1);
    case 2: return wasm_i16x8_shuffle(v, v, 2, 2, 2, 2, 2, 2, 2, 2);
    case 3: return wasm_i16x8_shuffle(v, v, 3, 3, 3, 3, 3, 3, 3, 3);
    case 4: return wasm_i16x8_shuffle(v, v, 4, 4, 4, 4, 4, 4, 4, 4);
    case 5: return wasm_i16x8_shuffle(v, v, 5, 5, 5, 5, 5, 5, 5, 5);
    case 6: return wasm_i16x8_shuffle(v, v, 6, 6, 6, 6, 6, 6, 6, 6);
    default: return wasm_i16x8_shuffle(v, v, 7, 7, 7, 7, 7, 7, 7, 7);
  }
}

/* u16 lanes of v shifted left by k (right by −k when k < 0); k is a constant after unrolling. */
INLINE v128_t qk_shift16(v128_t v, int k) { return k >= 0 ? wasm_i16x8_shl(v, k) : wasm_u16x8_shr(v, -k); }

#endif
