/*
 * The blocked matmul loop shared by the weight formats whose activations are q8_0 or q8_1 (blocks of 32
 * int8 with an f16 scale). A format file defines its block dot product and how a block's integer sum
 * becomes an f32 contribution, then includes this file:
 *
 *   #define FMT_NAME        q4_0                 matmul_<FMT_NAME> is exported
 *   #define FMT_BLOCK       block_q4_0           the weight block (32 values)
 *   #define FMT_ACT_Q8_1    0                    1: activations are q8_1 blocks, else q8_0
 *   #define FMT_X_I8        0                    1: fmt_dot reads raw int8 activations (2 vectors per
 *                                                block: q[0..15], q[16..31]), else pair-split i16 (4)
 *   typedef ... fmt_wmeta;                       per-lane weight-block data (e.g. the f32 scale)
 *   INLINE fmt_wmeta fmt_wmeta4(const FMT_BLOCK *b0, *b1, *b2, *b3);   lane i from b_i
 *   INLINE fmt_wmeta fmt_wmeta1(const FMT_BLOCK *b);                  all lanes from b
 *   INLINE v128_t fmt_dot(const FMT_BLOCK *w, const v128_t *x);         i32x4 partial sums of q_w * q_x
 *   INLINE v128_t fmt_combine(v128_t isum, fmt_wmeta w, v128_t dx, v128_t xsum, v128_t xs);
 *        f32x4 contribution of a block in each of four lanes (four blocks of one row against one token,
 *        or one block against four tokens): isum = sum of q_w * q_x (i32), dx = activation scale,
 *        xsum = sum of the activation's q (i32), xs = q8_1's s (f32, else 0).
 *
 * Activations are expanded once per call (decode) or per token tile, column chunk and row panel (prefill) into a stack
 * buffer: per block, four i16x8 vectors in "pair-split" order
 *   x[0][k] = q[2k], x[1][k] = q[16 + 2k], x[2][k] = q[2k + 1], x[3][k] = q[17 + 2k]     (k < 8)
 * which is the order the weight unpackers produce with 16-bit shifts and masks (no byte shuffles), and
 * i32x4.dot_i16x8_s multiplies and adds pairs; or, with FMT_X_I8 (formats whose relaxed-SIMD dot product
 * multiplies int8 activations by unsigned 7-bit weights), the raw int8 halves of the block. Alongside:
 * d (f32), the sum of q (i32) and s (f32).
 *
 * Four block dot products run together and their i32 sums are reduced in one transposed horizontal add.
 * One token (decode): the four are consecutive blocks of one row, so the weights are read as one
 * sequential stream (the hardware prefetcher then overlaps DRAM with compute; four rows side by side
 * measured ~40% slower here). Several tokens (prefill): one row's unpacked block serves a tile of 4
 * tokens, rows taken in panels that stay in L2 while every token tile passes.
 */
#include "common.h"

#define MM_CAT2(a, b) a##b
#define MM_CAT(a, b) MM_CAT2(a, b)
#define MM_FN MM_CAT(matmul_, FMT_NAME)

#ifndef FMT_X_I8
#define FMT_X_I8 0
#endif
/* v128 per expanded activation block */
#define MM_XV (FMT_X_I8 ? 2 : 4)

/* Largest ncols of a decode call: the expanded token row lives on the stack (1 MiB, build-wasm.mjs). */
#define MM_MAX_BLOCKS 2048
/* Prefill expands tiles of 4 tokens x this many blocks (76 KiB); longer rows are done in column chunks
 * whose sums add into y. */
#define MM_CHUNK_BLOCKS 256
/* Bytes of weight rows a prefill panel holds (read once per token tile, so kept in L2). */
#define MM_PANEL_BYTES (160 * 1024)

typedef struct {
  v128_t *q;   /* [nb][T][MM_XV] */
  float *d;    /* [nb][T] f32 */
  int32_t *sum; /* [nb][T] */
  float *s;    /* [nb][T] */
} mm_xtile;

/* Expands blocks [b0, b0+kn) of token rows tok[0..T) of X (nb blocks per row) into a tile of width T. */
INLINE void mm_expand(const void *X, int nb, int b0, int kn, const int *tok, int T, mm_xtile xt) {
#if FMT_ACT_Q8_1
  const block_q8_1 *x = X;
#else
  const block_q8_0 *x = X;
#endif
  for (int t = 0; t < T; t++) {
    for (int b = 0; b < kn; b++) {
      const size_t i = (size_t)tok[t] * nb + b0 + b;
      const v128_t v0 = wasm_v128_load(x[i].qs);
      const v128_t v1 = wasm_v128_load(x[i].qs + 16);
      v128_t *q = xt.q + ((size_t)b * T + t) * MM_XV;
      const v128_t e0 = wasm_i16x8_shr(wasm_i16x8_shl(v0, 8), 8), e1 = wasm_i16x8_shr(wasm_i16x8_shl(v1, 8), 8);
      const v128_t o0 = wasm_i16x8_shr(v0, 8), o1 = wasm_i16x8_shr(v1, 8);
#if FMT_X_I8
      q[0] = v0;
      q[1] = v1;
#else
      q[0] = e0;
      q[1] = e1;
      q[2] = o0;
      q[3] = o1;
#endif
      const v128_t s16 = wasm_i16x8_add(wasm_i16x8_add(e0, e1), wasm_i16x8_add(o0, o1));
      v128_t s32 = wasm_i32x4_dot_i16x8(s16, wasm_i16x8_splat(1));
      s32 = wasm_i32x4_add(s32, wasm_i32x4_shuffle(s32, s32, 2, 3, 0, 1));
      s32 = wasm_i32x4_add(s32, wasm_i32x4_shuffle(s32, s32, 1, 0, 3, 2));
      xt.sum[b * T + t] = wasm_i32x4_extract_lane(s32, 0);
      xt.d[b * T + t] = f16_to_f32(x[i].d);
#if FMT_ACT_Q8_1
      xt.s[b * T + t] = f16_to_f32(x[i].s);
#else
      xt.s[b * T + t] = 0.0f;
#endif
    }
  }
}

/* One row, one token, four consecutive blocks per step (one sequential stream of weights): the dot product. */
INLINE float mm_row_k4(const FMT_BLOCK *w, mm_xtile xt, int nb) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  int b = 0;
  for (; b + 4 <= nb; b += 4) {
    const v128_t *x = xt.q + (size_t)b * MM_XV;
    const v128_t isum = hsum4_i32x4(fmt_dot(w + b, x), fmt_dot(w + b + 1, x + MM_XV), fmt_dot(w + b + 2, x + 2 * MM_XV), fmt_dot(w + b + 3, x + 3 * MM_XV));
    const fmt_wmeta wm = fmt_wmeta4(w + b, w + b + 1, w + b + 2, w + b + 3);
    acc = wasm_f32x4_add(acc, fmt_combine(isum, wm, wasm_v128_load(xt.d + b), wasm_v128_load(xt.sum + b), wasm_v128_load(xt.s + b)));
  }
  float s = hsum_f32x4(acc);
  for (; b < nb; b++) {
    const v128_t *x = xt.q + (size_t)b * MM_XV;
    const v128_t zero = wasm_i32x4_splat(0);
    const v128_t isum = hsum4_i32x4(fmt_dot(w + b, x), zero, zero, zero);
    const fmt_wmeta wm = fmt_wmeta1(w + b);
    s += wasm_f32x4_extract_lane(fmt_combine(isum, wm, wasm_f32x4_splat(xt.d[b]), wasm_i32x4_splat(xt.sum[b]), wasm_f32x4_splat(xt.s[b])), 0);
  }
  return s;
}

/* One row against a tile of 4 tokens: lane i = dot(row w, token i). (A tile of 8 tokens sharing the
 * unpacked weights measured ~15% slower here: V8 then spills registers.) */
INLINE v128_t mm_tile_r1t4(const FMT_BLOCK *w, mm_xtile xt, int nb) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int b = 0; b < nb; b++) {
    const v128_t *x = xt.q + (size_t)b * 4 * MM_XV;
    const v128_t isum = hsum4_i32x4(fmt_dot(w + b, x), fmt_dot(w + b, x + MM_XV), fmt_dot(w + b, x + 2 * MM_XV), fmt_dot(w + b, x + 3 * MM_XV));
    const fmt_wmeta wm = fmt_wmeta1(w + b);
    acc = wasm_f32x4_add(acc, fmt_combine(isum, wm, wasm_v128_load(xt.d + b * 4), wasm_v128_load(xt.sum + b * 4), wasm_v128_load(xt.s + b * 4)));
  }
  return acc;
}

/* Rows [r0, r1) against tokens t0 .. t0+n-1 (n <= 4) over blocks [b0, b0+kn): stores, or adds when b0 > 0. */
INLINE void mm_panel_tile(const uint8_t *wbytes, size_t row_bytes, const void *X, int nb, float *y, int ystride, int r0, int r1, int t0, int n, int b0, int kn,
                          mm_xtile xt) {
  const int tok[4] = {t0, t0 + min_int(1, n - 1), t0 + min_int(2, n - 1), t0 + min_int(3, n - 1)};
  mm_expand(X, nb, b0, kn, tok, 4, xt);
  for (int r = r0; r < r1; r++) {
    const v128_t acc = mm_tile_r1t4((const FMT_BLOCK *)(wbytes + (size_t)r * row_bytes) + b0, xt, kn);
    float *yo = y + (size_t)t0 * ystride + r;
    if (b0 == 0) {
      store_lanes_strided(yo, (size_t)ystride, acc, n);
    } else {
      float lanes[4];
      wasm_v128_store(lanes, acc);
      for (int t = 0; t < n; t++) yo[(size_t)t * ystride] += lanes[t];
    }
  }
}

void EXPORT(MM_FN)(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride) {
  const int nb = ncols / 32;
  if (nb > MM_MAX_BLOCKS) __builtin_trap();
  const size_t row_bytes = (size_t)nb * sizeof(FMT_BLOCK);
  const uint8_t *wbytes = W;

  if (ntok == 1) {
    v128_t q[MM_MAX_BLOCKS * MM_XV];
    float d[MM_MAX_BLOCKS], s[MM_MAX_BLOCKS];
    int32_t sum[MM_MAX_BLOCKS];
    const mm_xtile xt = {q, d, sum, s};
    const int tok0 = 0;
    mm_expand(X, nb, 0, nb, &tok0, 1, xt);
    for (int r = 0; r < nrows; r++) y[r] = mm_row_k4((const FMT_BLOCK *)(wbytes + (size_t)r * row_bytes), xt, nb);
    return;
  }

  v128_t q[MM_CHUNK_BLOCKS * 4 * MM_XV];
  float d[MM_CHUNK_BLOCKS * 4], s[MM_CHUNK_BLOCKS * 4];
  int32_t sum[MM_CHUNK_BLOCKS * 4];
  const mm_xtile xt = {q, d, sum, s};
  const int chunk = min_int(nb, MM_CHUNK_BLOCKS);
  int panel = (int)(MM_PANEL_BYTES / ((size_t)chunk * sizeof(FMT_BLOCK)));
  if (panel < 4) panel = 4;
  for (int r0 = 0; r0 < nrows; r0 += panel) {
    const int r1 = min_int(nrows, r0 + panel);
    for (int b0 = 0; b0 < nb; b0 += MM_CHUNK_BLOCKS) {
      const int kn = min_int(MM_CHUNK_BLOCKS, nb - b0);
      for (int t0 = 0; t0 < ntok; t0 += 4) mm_panel_tile(wbytes, row_bytes, X, nb, y, ystride, r0, r1, t0, min_int(4, ntok - t0), b0, kn, xt);
    }
  }
}
