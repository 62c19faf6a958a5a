/*
 * The blocked matmul loop shared by the float weight formats (f32, f16, bf16): activations in the same
 * format (ggml's vec_dot_type), both sides widened to f32, products summed in f32. A format file defines
 *
 *   #define FMT_NAME   f16                       matmul_<FMT_NAME> is exported
 *   INLINE void fmt_load8(const void *row, int k, v128_t *lo, v128_t *hi);   values k .. k+7 as f32
 *   INLINE float fmt_load1(const void *row, int k);                          value k as f32
 *
 * and includes this file. The same two loaders read weight rows and activation rows (same format).
 * Activations are widened to f32 once per call (decode) or per token tile, column chunk and row panel
 * (prefill) into a stack buffer. Decode streams each row once with four accumulators; prefill runs one
 * row against four tokens (eight accumulators), in row panels that stay in L2 while the token tiles pass,
 * and in column chunks of MF_CHUNK so the widened tile stays small; chunks after the first add into y.
 */
#include "common.h"

#define MF_CAT2(a, b) a##b
#define MF_CAT(a, b) MF_CAT2(a, b)
#define MF_FN MF_CAT(matmul_, FMT_NAME)

/* Largest ncols of a decode call (the widened activation row lives on the stack, 256 KiB). */
#define MF_MAX_COLS 65536
/* Columns per prefill chunk (4 tokens widened: 64 KiB). */
#define MF_CHUNK 4096
#define MF_PANEL_BYTES (128 * 1024)

/* Widens n values of an activation row (format FMT) to f32. */
INLINE void mf_widen(const void *x, float *out, int n) {
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    v128_t lo, hi;
    fmt_load8(x, k, &lo, &hi);
    wasm_v128_store(out + k, lo);
    wasm_v128_store(out + k + 4, hi);
  }
  for (; k < n; k++) out[k] = fmt_load1(x, k);
}

/* dot(row w, x) over n columns, x already f32. */
INLINE float mf_row(const void *w, const float *x, int n) {
  v128_t a0 = wasm_f32x4_splat(0), a1 = a0, a2 = a0, a3 = a0;
  int k = 0;
  for (; k + 16 <= n; k += 16) {
    v128_t w0, w1, w2, w3;
    fmt_load8(w, k, &w0, &w1);
    fmt_load8(w, k + 8, &w2, &w3);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(w0, wasm_v128_load(x + k)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(w1, wasm_v128_load(x + k + 4)));
    a2 = wasm_f32x4_add(a2, wasm_f32x4_mul(w2, wasm_v128_load(x + k + 8)));
    a3 = wasm_f32x4_add(a3, wasm_f32x4_mul(w3, wasm_v128_load(x + k + 12)));
  }
  for (; k + 8 <= n; k += 8) {
    v128_t w0, w1;
    fmt_load8(w, k, &w0, &w1);
    a0 = wasm_f32x4_add(a0, wasm_f32x4_mul(w0, wasm_v128_load(x + k)));
    a1 = wasm_f32x4_add(a1, wasm_f32x4_mul(w1, wasm_v128_load(x + k + 4)));
  }
  float s = hsum_f32x4(wasm_f32x4_add(wasm_f32x4_add(a0, a1), wasm_f32x4_add(a2, a3)));
  for (; k < n; k++) s += fmt_load1(w, k) * x[k];
  return s;
}

/* One row against a tile of 4 widened tokens (xt: [4][n] f32): lane t = dot(row w, token t), n columns. */
INLINE v128_t mf_row_t4(const void *w, const float *xt, int n) {
  v128_t a[8];
  for (int i = 0; i < 8; i++) a[i] = wasm_f32x4_splat(0);
  int k = 0;
  for (; k + 8 <= n; k += 8) {
    v128_t lo, hi;
    fmt_load8(w, k, &lo, &hi);
    for (int t = 0; t < 4; t++) {
      a[2 * t] = wasm_f32x4_add(a[2 * t], wasm_f32x4_mul(lo, wasm_v128_load(xt + t * n + k)));
      a[2 * t + 1] = wasm_f32x4_add(a[2 * t + 1], wasm_f32x4_mul(hi, wasm_v128_load(xt + t * n + k + 4)));
    }
  }
  v128_t s = hsum4_f32x4(wasm_f32x4_add(a[0], a[1]), wasm_f32x4_add(a[2], a[3]), wasm_f32x4_add(a[4], a[5]), wasm_f32x4_add(a[6], a[7]));
  for (; k < n; k++) {
    const float wk = fmt_load1(w, k);
    s = wasm_f32x4_add(s, wasm_f32x4_mul(wasm_f32x4_splat(wk), wasm_f32x4_make(xt[k], xt[n + k], xt[2 * n + k], xt[3 * n + k])));
  }
  return s;
}

void EXPORT(MF_FN)(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride) {
  const size_t row_bytes = (size_t)ncols * FMT_ELEM_BYTES;
  const uint8_t *wb = W;
  const uint8_t *xb = X;
  if (ntok == 1) {
    if (ncols > MF_MAX_COLS) __builtin_trap();
    float x[MF_MAX_COLS];
    mf_widen(X, x, ncols);
    for (int r = 0; r < nrows; r++) y[r] = mf_row(wb + r * row_bytes, x, ncols);
    return;
  }
  float xt[4 * MF_CHUNK];
  int panel = (int)(MF_PANEL_BYTES / (min_int(ncols, MF_CHUNK) * FMT_ELEM_BYTES));
  if (panel < 4) panel = 4;
  for (int r0 = 0; r0 < nrows; r0 += panel) {
    const int r1 = min_int(nrows, r0 + panel);
    for (int k0 = 0; k0 < ncols; k0 += MF_CHUNK) {
      const int kn = min_int(MF_CHUNK, ncols - k0);
      for (int t0 = 0; t0 < ntok; t0 += 4) {
        const int n = min_int(4, ntok - t0);
        for (int t = 0; t < 4; t++) {
          const int tok = t0 + min_int(t, n - 1);
          mf_widen(xb + ((size_t)tok * ncols + k0) * FMT_ELEM_BYTES, xt + t * kn, kn);
        }
        for (int r = r0; r < r1; r++) {
          const v128_t s = mf_row_t4(wb + r * row_bytes + (size_t)k0 * FMT_ELEM_BYTES, xt, kn);
          float *yo = y + (size_t)t0 * ystride + r;
          if (k0 == 0) {
            store_lanes_strided(yo, (size_t)ystride, s, n);
          } else {
            float lanes[4];
            wasm_v128_store(lanes, s);
            for (int t = 0; t < n; t++) yo[(size_t)t * ystride] += lanes[t];
          }
        }
      }
    }
  }
}
