/*
 * The blocked matmul loop and the row dequantiser shared by the weight formats on q8_K activations:
 * super-blocks of 256 values with a scale per sub-block (the K-quants Q2_K..Q6_K, IQ4_XS). The sibling
 * of matmul-q8.h. A format file defines its block struct and how to unpack it, then includes this file:
 *
 *   #define FMT_NAME    q4_K          matmul_<FMT_NAME> and dequantize_row_<FMT_NAME> are exported
 *   #define FMT_BLOCK   block_q4_K    the weight block (256 values); has `uint16_t d` (f16), and `dmin` with FMT_MINS
 *   #define FMT_SUB     32            values per sub-block (one scale each): 32 or 16
 *   #define FMT_MINS    1             1: x = (d·sc)·q − dmin·m per sub-block (Q2_K, Q4_K, Q5_K)
 *   #define FMT_OFFSET  0             x = (d·sc)·(q − FMT_OFFSET) (Q3_K: 4, Q6_K: 32; a power of two)
 *   #define FMT_SIGNED  0             1: weight codes are int8 (IQ4_XS), else 0..127
 *   INLINE void fmt_scales(const FMT_BLOCK *w, qk_scales *s);   the sub-block scales (and mins), i16
 *   INLINE v128_t fmt_group(const FMT_BLOCK *w, int g);         the 16 weight codes q of values 16g..16g+15,
 *                                                              one byte each in value order (g is a constant
 *                                                              after unrolling: shifts and offsets fold)
 *
 * The dot product of a block with a q8_K activation block (d_x, q_x, bsums) is ggml's (x86
 * vec_dot_*_q8_K): the integer I = Σ_sub sc · Σ_{v in sub} q_v·q_x,v, exact in i32, then
 *   FMT_MINS:    d·d_x·I − dmin·d_x·M,  M = Σ_sub m · (the activation's sum over the sub-block, from bsums)
 *   otherwise:   d·d_x·(I − FMT_OFFSET · Σ_sub sc · bsum_sub)
 * Ranges: every partial sum below stays inside its lane type for codes 0..63 (signed: −128..127) against
 * activations −128..127 (see qk_dot16); |I| < 2^31 for every format.
 *
 * How 16 codes meet 16 activations (qk_dot16) gives an i16x8 whose lane k is q_2k·x_2k + q_2k+1·x_2k+1:
 *  - relaxed SIMD: i16x8.relaxed_dot_i8x16_i7x16_s(x, q) (q is 0..127, so every engine computes it exactly:
 *    pmaddubsw on x86, sdot/smull on Arm). Signed codes (IQ4_XS) take the sign of x instead: the dot of
 *    |x| (0..127: q8_K never holds −128) with ±q.
 *  - SIMD128: the activations are kept as even/odd i16 (x_2k, x_2k+1), the codes split the same way with
 *    16-bit masks and shifts, two i16x8.mul and an add.
 * Both give the same lanes, so both builds give the same bits. Sub-block sums are then scaled and widened
 * in one i32x4.dot_i16x8_s against the sub-block's scale in every lane.
 *
 * The activations are expanded (decode: once per call; prefill: per token tile, column chunk and row panel)
 * into a stack buffer, per block QK_BV vectors: the codes as the dot product reads them (16·QK_XV), the
 * bsums (two i16x8) and their pair sums (one i16x8: the sums over 32 values), plus d_x in a float array.
 *
 * Decode (one token) streams each row once, a block at a time, in steps of 64 values (codes unpacked,
 * dotted, a stack store as a fence: qk_fence); the integer sums of four consecutive blocks are reduced
 * together (one transposed horizontal add) and combined with their scales as f32x4 lanes. Prefill runs
 * one row's block against a tile of 4 tokens (each 64-value step unpacked once for the four), rows in
 * panels that stay in L2 while every token tile passes.
 * Measured here (1 thread, relaxed build, weights in cache, 512 x 4096): decode Q4_K 0.060 ms, Q5_K 0.084,
 * Q6_K 0.089 against Q4_0's 0.071 (matmul-q8.h); 64-token prefill Q4_K ~95 GFLOP/s, Q6_K ~75, Q4_0 ~85.
 */
#include "qk-common.h"

#define QK_CAT2(a, b) a##b
#define QK_CAT(a, b) QK_CAT2(a, b)
#define QK_MATMUL QK_CAT(matmul_, FMT_NAME)
#define QK_DEQUANTIZE QK_CAT(dequantize_row_, FMT_NAME)

#ifndef FMT_MINS
#define FMT_MINS 0
#endif
#ifndef FMT_OFFSET
#define FMT_OFFSET 0
#endif
#ifndef FMT_SIGNED
#define FMT_SIGNED 0
#endif
#if FMT_SUB != 16 && FMT_SUB != 32
#error "FMT_SUB must be 16 or 32"
#endif
#if FMT_OFFSET && (FMT_OFFSET & (FMT_OFFSET - 1))
#error "FMT_OFFSET must be a power of two"
#endif

/* Sub-blocks per block. */
#define QK_NSUB (QK_K / FMT_SUB)

/* v128 per 16 expanded activations: raw int8 (relaxed, unsigned codes), |x| and its sign mask (relaxed,
 * signed codes), or even/odd i16 (SIMD128). */
#if MOECODE_RELAXED_SIMD && !FMT_SIGNED
#define QK_XV 1
#else
#define QK_XV 2
#endif
/* v128 per expanded activation block: the codes' partners, then bsums 0..7, bsums 8..15, pair sums. */
#define QK_BV (16 * QK_XV + 3)
#define QK_BS0 (16 * QK_XV)

/* Largest ncols of a decode call: the expanded token row lives on the stack (1 MiB, build-wasm.mjs). */
#define QK_MAX_BLOCKS 256
/* Prefill expands tiles of 4 tokens x this many blocks (~70 KiB); longer rows are done in column chunks
 * whose sums add into y. */
#define QK_CHUNK_BLOCKS 32
/* Bytes of weight rows a prefill panel holds (read once per token tile, so kept in L2). */
#define QK_PANEL_BYTES (160 * 1024)

/* Expands one q8_K block into QK_BV vectors at o. */
INLINE void qk_expand_block(const block_q8_K *x, v128_t *o) {
  for (int g = 0; g < 16; g++) {
    const v128_t v = wasm_v128_load(x->qs + 16 * g);
#if MOECODE_RELAXED_SIMD && !FMT_SIGNED
    o[g] = v;
#elif MOECODE_RELAXED_SIMD
    o[2 * g] = wasm_i8x16_abs(v);
    o[2 * g + 1] = wasm_i8x16_lt(v, wasm_i8x16_splat(0));
#else
    o[2 * g] = wasm_i16x8_shr(wasm_i16x8_shl(v, 8), 8); /* x_2k */
    o[2 * g + 1] = wasm_i16x8_shr(v, 8);                /* x_2k+1 */
#endif
  }
  const v128_t b0 = wasm_v128_load(x->bsums), b1 = wasm_v128_load(x->bsums + 8);
  const v128_t one = wasm_i16x8_splat(1);
  o[QK_BS0] = b0;
  o[QK_BS0 + 1] = b1;
  /* |bsums[2s] + bsums[2s+1]| <= 32 * 128: no saturation */
  o[QK_BS0 + 2] = wasm_i16x8_narrow_i32x4(wasm_i32x4_dot_i16x8(b0, one), wasm_i32x4_dot_i16x8(b1, one));
}

/* i16x8, lane k = q_2k·x_2k + q_2k+1·x_2k+1, for the 16 codes q of a group against their expanded
 * activations x. |lane| <= 2·63·128 (unsigned codes <= 63) or 2·128·127 (signed codes), inside i16. */
INLINE v128_t qk_dot16(v128_t q, const v128_t *x) {
#if MOECODE_RELAXED_SIMD && !FMT_SIGNED
  return wasm_i16x8_relaxed_dot_i8x16_i7x16(x[0], q);
#elif MOECODE_RELAXED_SIMD
  /* x[0] = |x| (0..127), x[1] = (x < 0 ? −1 : 0): q·x = (±q)·|x|; ±q stays in int8 (codes >= −127) */
  return wasm_i16x8_relaxed_dot_i8x16_i7x16(wasm_i8x16_sub(wasm_v128_xor(q, x[1]), x[1]), x[0]);
#elif FMT_SIGNED
  const v128_t even = wasm_i16x8_shr(wasm_i16x8_shl(q, 8), 8), odd = wasm_i16x8_shr(q, 8);
  return wasm_i16x8_add(wasm_i16x8_mul(even, x[0]), wasm_i16x8_mul(odd, x[1]));
#else
  const v128_t even = wasm_v128_and(q, wasm_i16x8_splat(0x00ff)), odd = wasm_u16x8_shr(q, 8);
  return wasm_i16x8_add(wasm_i16x8_mul(even, x[0]), wasm_i16x8_mul(odd, x[1]));
#endif
}

/* Sub-blocks per step: the codes of 64 values are unpacked (with their scales in every lane) at a time,
 * then meet each token's activations (prefill: the token loop runs inside the step; a step of 32 or 128
 * values measured ~20-30% slower here, from reloading accumulators or spilling codes). */
#define QK_STEP (64 / FMT_SUB)

typedef struct {
  v128_t q[4];        /* the codes of groups 4·step .. 4·step + 3 (values 64·step ..) */
  v128_t sp[QK_STEP]; /* each sub-block's scale in every i16 lane */
} qk_unpacked;

/* Unpacks step `st` (0..3; a constant after unrolling) of block w. */
INLINE void qk_unpack(const FMT_BLOCK *w, const qk_scales *s, int st, qk_unpacked *u) {
#pragma clang loop unroll(full)
  for (int g = 0; g < 4; g++) u->q[g] = fmt_group(w, 4 * st + g);
#pragma clang loop unroll(full)
  for (int i = 0; i < QK_STEP; i++) {
    const int sb = st * QK_STEP + i;
    u->sp[i] = qk_splat16(s->sc[sb >> 3], sb & 7);
  }
}

/* acc + Σ_sub sc · Σ q·q_x over the 64 values of step st, against one token's expanded block x. */
INLINE v128_t qk_step_dot(const qk_unpacked *u, int st, const v128_t *x, v128_t acc) {
  const v128_t *xs = x + 4 * st * QK_XV;
#pragma clang loop unroll(full)
  for (int i = 0; i < QK_STEP; i++) {
#if FMT_SUB == 32 && FMT_SIGNED
    /* two groups' lanes could overflow i16: scale each */
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(qk_dot16(u->q[2 * i], xs + 2 * i * QK_XV), u->sp[i]));
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(qk_dot16(u->q[2 * i + 1], xs + (2 * i + 1) * QK_XV), u->sp[i]));
#elif FMT_SUB == 32
    /* codes <= 31 here: |lane| <= 4·31·128 */
    const v128_t s16 = wasm_i16x8_add(qk_dot16(u->q[2 * i], xs + 2 * i * QK_XV), qk_dot16(u->q[2 * i + 1], xs + (2 * i + 1) * QK_XV));
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(s16, u->sp[i]));
#else
    acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(qk_dot16(u->q[i], xs + i * QK_XV), u->sp[i]));
#endif
  }
  return acc;
}

/* The block's integer sums from its scaled code sums acc and the token's bsums: *isum = acc − FMT_OFFSET ·
 * Σ sc·bsum; *msum = M (FMT_MINS). */
INLINE void qk_finish(const qk_scales *s, const v128_t *x, v128_t acc, v128_t *isum, v128_t *msum) {
  const v128_t *bs = x + QK_BS0;
  (void)bs;
#if FMT_MINS
#if FMT_SUB == 32
  *msum = wasm_i32x4_dot_i16x8(s->mn[0], bs[2]);
#else
  *msum = wasm_i32x4_add(wasm_i32x4_dot_i16x8(s->mn[0], bs[0]), wasm_i32x4_dot_i16x8(s->mn[1], bs[1]));
#endif
#else
  (void)msum;
#endif
#if FMT_OFFSET
  _Static_assert(FMT_SUB == 16, "offsets are implemented for 16-value sub-blocks");
  const v128_t o = wasm_i32x4_add(wasm_i32x4_dot_i16x8(s->sc[0], bs[0]), wasm_i32x4_dot_i16x8(s->sc[1], bs[1]));
  acc = wasm_i32x4_sub(acc, wasm_i32x4_shl(o, __builtin_ctz(FMT_OFFSET)));
#endif
  *isum = acc;
}

/* A store to the stack, which no later load may pass: V8 (TurboFan) otherwise issues a block's loads early
 * and spills most of them (decode measured ~15% faster here with one per step, the baseline build ~35%;
 * prefill is not helped). */
INLINE void qk_fence(v128_t v) {
  volatile v128_t sink;
  sink = v;
  (void)sink;
}

/* One block against one token: *isum (i32x4, lanes to be added) and *msum (FMT_MINS). */
INLINE void qk_block1(const FMT_BLOCK *w, const v128_t *x, v128_t *isum, v128_t *msum) {
  qk_scales s;
  fmt_scales(w, &s);
  v128_t acc = wasm_i32x4_splat(0);
#pragma clang loop unroll(full)
  for (int st = 0; st < 4; st++) {
    qk_unpacked u;
    qk_unpack(w, &s, st, &u);
    acc = qk_step_dot(&u, st, x, acc);
    qk_fence(acc);
  }
  qk_finish(&s, x, acc, isum, msum);
}

/* One block against 4 tokens (x[t]: token t's expanded block): the same sums per token, the codes unpacked
 * once per step for the four. The token loop stays a loop: unrolled, V8 spills registers (~30% slower). */
INLINE void qk_block4(const FMT_BLOCK *w, const v128_t *const *x, v128_t *isum, v128_t *msum) {
  qk_scales s;
  fmt_scales(w, &s);
  v128_t acc[4];
  for (int t = 0; t < 4; t++) acc[t] = wasm_i32x4_splat(0);
#pragma clang loop unroll(full)
  for (int st = 0; st < 4; st++) {
    qk_unpacked u;
    qk_unpack(w, &s, st, &u);
#pragma clang loop unroll(disable)
    for (int t = 0; t < 4; t++) acc[t] = qk_step_dot(&u, st, x[t], acc[t]);
  }
#pragma clang loop unroll(disable)
  for (int t = 0; t < 4; t++) qk_finish(&s, x[t], acc[t], &isum[t], &msum[t]);
}

/* f32x4 lanes of the blocks' f16 d (or dmin) fields. */
#define QK_F16X4(b0, b1, b2, b3, f) f16hi_to_f32x4(wasm_i32x4_make((b0)->f << 16, (b1)->f << 16, (b2)->f << 16, (b3)->f << 16))

/* The f32x4 contribution of four blocks' integer sums (lane i = block or token i): I, M; wd, wm: the
 * weights' d and dmin; xd: the activations' d. */
INLINE v128_t qk_combine(v128_t I, v128_t M, v128_t wd, v128_t wm, v128_t xd) {
  v128_t f = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(I), wasm_f32x4_mul(wd, xd));
#if FMT_MINS
  f = wasm_f32x4_sub(f, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(M), wasm_f32x4_mul(wm, xd)));
#else
  (void)M;
  (void)wm;
#endif
  return f;
}

/* One row against one token: the dot product, four consecutive blocks per step (one sequential stream). */
INLINE float qk_row(const FMT_BLOCK *w, const v128_t *xq, const float *xd, int nb) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  const v128_t zero = wasm_i32x4_splat(0);
  v128_t I[4], M[4] = {zero, zero, zero, zero};
  int b = 0;
  for (; b + 4 <= nb; b += 4) {
    /* a block at a time: four unrolled, V8 spills registers (~2x slower here) */
#pragma clang loop unroll(disable)
    for (int i = 0; i < 4; i++) qk_block1(w + b + i, xq + (size_t)(b + i) * QK_BV, &I[i], &M[i]);
    const v128_t wd = QK_F16X4(w + b, w + b + 1, w + b + 2, w + b + 3, d);
#if FMT_MINS
    const v128_t wm = QK_F16X4(w + b, w + b + 1, w + b + 2, w + b + 3, dmin);
    const v128_t M4 = hsum4_i32x4(M[0], M[1], M[2], M[3]);
#else
    const v128_t wm = zero, M4 = zero;
#endif
    acc = wasm_f32x4_add(acc, qk_combine(hsum4_i32x4(I[0], I[1], I[2], I[3]), M4, wd, wm, wasm_v128_load(xd + b)));
  }
  float s = hsum_f32x4(acc);
  for (; b < nb; b++) {
    qk_block1(w + b, xq + (size_t)b * QK_BV, &I[0], &M[0]);
    const v128_t wd = wasm_f32x4_splat(f16_to_f32(w[b].d));
#if FMT_MINS
    const v128_t wm = wasm_f32x4_splat(f16_to_f32(w[b].dmin));
#else
    const v128_t wm = zero;
#endif
    s += wasm_f32x4_extract_lane(qk_combine(hsum4_i32x4(I[0], zero, zero, zero), hsum4_i32x4(M[0], zero, zero, zero), wd, wm, wasm_f32x4_splat(xd[b])), 0);
  }
  return s;
}

/* One row against a tile of 4 tokens (xq: [nb][4][QK_BV], xd: [nb][4]): lane t = dot(row, token t). */
INLINE v128_t qk_tile_r1t4(const FMT_BLOCK *w, const v128_t *xq, const float *xd, int nb) {
  v128_t acc = wasm_f32x4_splat(0.0f);
  for (int b = 0; b < nb; b++) {
    const v128_t *x0 = xq + (size_t)b * 4 * QK_BV;
    const v128_t *const xs[4] = {x0, x0 + QK_BV, x0 + 2 * QK_BV, x0 + 3 * QK_BV};
    v128_t I[4], M[4];
    qk_block4(w + b, xs, I, M);
    const v128_t wd = wasm_f32x4_splat(f16_to_f32(w[b].d));
#if FMT_MINS
    const v128_t wm = wasm_f32x4_splat(f16_to_f32(w[b].dmin)), M4 = hsum4_i32x4(M[0], M[1], M[2], M[3]);
#else
    const v128_t wm = wasm_i32x4_splat(0), M4 = wm;
#endif
    acc = wasm_f32x4_add(acc, qk_combine(hsum4_i32x4(I[0], I[1], I[2], I[3]), M4, wd, wm, wasm_v128_load(xd + b * 4)));
  }
  return acc;
}

/* Expands blocks [b0, b0+kn) of token rows tok[0..T) of X (nb blocks per row): xq [kn][T][QK_BV], xd [kn][T]. */
INLINE void qk_expand(const void *X, int nb, int b0, int kn, const int *tok, int T, v128_t *xq, float *xd) {
  const block_q8_K *x = X;
  for (int t = 0; t < T; t++) {
    for (int b = 0; b < kn; b++) {
      const block_q8_K *xb = x + (size_t)tok[t] * nb + b0 + b;
      qk_expand_block(xb, xq + ((size_t)b * T + t) * QK_BV);
      xd[b * T + t] = xb->d;
    }
  }
}

void EXPORT(QK_MATMUL)(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride) {
  const int nb = ncols / QK_K;
  if (nb > QK_MAX_BLOCKS) __builtin_trap();
  const size_t row_bytes = (size_t)nb * sizeof(FMT_BLOCK);
  const uint8_t *wbytes = W;

  if (ntok == 1) {
    v128_t xq[QK_MAX_BLOCKS * QK_BV];
    float xd[QK_MAX_BLOCKS];
    const int tok0 = 0;
    qk_expand(X, nb, 0, nb, &tok0, 1, xq, xd);
    for (int r = 0; r < nrows; r++) y[r] = qk_row((const FMT_BLOCK *)(wbytes + (size_t)r * row_bytes), xq, xd, nb);
    return;
  }

  v128_t xq[QK_CHUNK_BLOCKS * 4 * QK_BV];
  float xd[QK_CHUNK_BLOCKS * 4];
  const int chunk = min_int(nb, QK_CHUNK_BLOCKS);
  int panel = (int)(QK_PANEL_BYTES / ((size_t)chunk * sizeof(FMT_BLOCK)));
  if (panel < 4) panel = 4;
  for (int r0 = 0; r0 < nrows; r0 += panel) {
    const int r1 = min_int(nrows, r0 + panel);
    for (int b0 = 0; b0 < nb; b0 += QK_CHUNK_BLOCKS) {
      const int kn = min_int(QK_CHUNK_BLOCKS, nb - b0);
      for (int t0 = 0; t0 < ntok; t0 += 4) {
        const int n = min_int(4, ntok - t0);
        const int tok[4] = {t0, t0 + min_int(1, n - 1), t0 + min_int(2, n - 1), t0 + min_int(3, n - 1)};
        qk_expand(X, nb, b0, kn, tok, 4, xq, xd);
        for (int r = r0; r < r1; r++) {
          const v128_t acc = qk_tile_r1t4((const FMT_BLOCK *)(wbytes + (size_t)r * row_bytes) + b0, xq, xd, kn);
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
    }
  }
}

/*
 * ggml's dequantize_row_<fmt>: y = (d·sc)·q − dmin·m (FMT_MINS) or (d·sc)·(q − FMT_OFFSET), per sub-block.
 * d·sc, dmin·m and (d·sc)·q are exact in f32 for every format here (at most 24 significant bits), so the
 * only rounding is the subtraction's, as in ggml.
 */
void EXPORT(QK_DEQUANTIZE)(const void *src, float *y, int n) {
  const FMT_BLOCK *x = src;
  for (int i = 0; i < n / QK_K; i++, y += QK_K) {
    qk_scales s;
    fmt_scales(x + i, &s);
    int16_t sc[16], mn[16];
    wasm_v128_store(sc, s.sc[0]);
    wasm_v128_store(sc + 8, s.sc[1]);
#if FMT_MINS
    wasm_v128_store(mn, s.mn[0]);
    wasm_v128_store(mn + 8, s.mn[1]);
    const float dmin = f16_to_f32(x[i].dmin);
#else
    (void)mn;
#endif
    const float d = f16_to_f32(x[i].d);
#pragma clang loop unroll(full)
    for (int g = 0; g < 16; g++) {
      const int sb = g * 16 / FMT_SUB;
      const v128_t dl = wasm_f32x4_splat(d * (float)sc[sb]);
#if FMT_MINS
      const v128_t ml = wasm_f32x4_splat(dmin * (float)mn[sb]);
#endif
      const v128_t q = fmt_group(x + i, g);
#if FMT_SIGNED
      const v128_t h0 = wasm_i16x8_extend_low_i8x16(q), h1 = wasm_i16x8_extend_high_i8x16(q);
#else
      const v128_t h0 = wasm_i16x8_sub(wasm_u16x8_extend_low_u8x16(q), wasm_i16x8_splat(FMT_OFFSET));
      const v128_t h1 = wasm_i16x8_sub(wasm_u16x8_extend_high_u8x16(q), wasm_i16x8_splat(FMT_OFFSET));
#endif
      const v128_t q4[4] = {wasm_i32x4_extend_low_i16x8(h0), wasm_i32x4_extend_high_i16x8(h0), wasm_i32x4_extend_low_i16x8(h1), wasm_i32x4_extend_high_i16x8(h1)};
      for (int k = 0; k < 4; k++) {
        v128_t v = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(q4[k]), dl);
#if FMT_MINS
        v = wasm_f32x4_sub(v, ml);
#endif
        wasm_v128_store(y + 16 * g + 4 * k, v);
      }
    }
  }
}
