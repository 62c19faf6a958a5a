/*
 * The f32 element-wise and per-row ops of a forward pass: rms_norm, rope, glu_silu, glu_gelu, add_scaled.
 * Numerics follow ggml-cpu (ops.cpp / vec.h); see moecode-cpu.h for each contract.
 */
#include "common.h"
#include "mathf.h"

/* ggml_compute_forward_rms_norm_f32 (+ the ggml_mul by the norm weight): sum of f32 squares in double,
 * mean and scale in f32, y = (x * scale) * w. */
void EXPORT(rms_norm)(const float *x, const float *w, float *y, int n, int nrows, float eps) {
  for (int r = 0; r < nrows; r++, x += n, y += n) {
    v128_t s0 = wasm_f64x2_splat(0), s1 = s0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
      const v128_t v = wasm_v128_load(x + i);
      const v128_t sq = wasm_f32x4_mul(v, v);
      s0 = wasm_f64x2_add(s0, wasm_f64x2_promote_low_f32x4(sq));
      s1 = wasm_f64x2_add(s1, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(sq, sq, 2, 3, 0, 1)));
    }
    const v128_t s = wasm_f64x2_add(s0, s1);
    double sum = wasm_f64x2_extract_lane(s, 0) + wasm_f64x2_extract_lane(s, 1);
    for (; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / n);
    const float scale = 1.0f / __builtin_sqrtf(mean + eps);
    const v128_t vs = wasm_f32x4_splat(scale);
    i = 0;
    if (w) {
      for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(x + i), vs), wasm_v128_load(w + i)));
      for (; i < n; i++) y[i] = x[i] * scale * w[i];
    } else {
      for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_mul(wasm_v128_load(x + i), vs));
      for (; i < n; i++) y[i] = x[i] * scale;
    }
  }
}

/* One head at one position: x0' = x0 c - x1 s, x1' = x0 s + x1 c (f32, as ggml's rotate_pairs). */
INLINE void rope_head_norm(float *x, const float *cs, int n_rot) {
  int i = 0;
  const v128_t flip = wasm_f32x4_make(-1.0f, 1.0f, -1.0f, 1.0f);
  for (; i + 4 <= n_rot; i += 4) {
    const v128_t v = wasm_v128_load(x + i);   /* x0 x1 x2 x3: pairs (0,1), (2,3) */
    const v128_t t = wasm_v128_load(cs + i);  /* c0 s0 c1 s1 */
    const v128_t c = wasm_i32x4_shuffle(t, t, 0, 0, 2, 2);
    const v128_t s = wasm_f32x4_mul(wasm_i32x4_shuffle(t, t, 1, 1, 3, 3), flip);
    const v128_t sw = wasm_i32x4_shuffle(v, v, 1, 0, 3, 2);
    wasm_v128_store(x + i, wasm_f32x4_add(wasm_f32x4_mul(v, c), wasm_f32x4_mul(sw, s)));
  }
  for (; i < n_rot; i += 2) {
    const float c = cs[i], s = cs[i + 1], x0 = x[i], x1 = x[i + 1];
    x[i] = x0 * c - x1 * s;
    x[i + 1] = x0 * s + x1 * c;
  }
}

INLINE void rope_head_neox(float *x, const float *cs, int n_rot) {
  const int h = n_rot / 2;
  int i = 0;
  for (; i + 4 <= h; i += 4) {
    const v128_t t0 = wasm_v128_load(cs + 2 * i), t1 = wasm_v128_load(cs + 2 * i + 4);
    const v128_t c = wasm_i32x4_shuffle(t0, t1, 0, 2, 4, 6);
    const v128_t s = wasm_i32x4_shuffle(t0, t1, 1, 3, 5, 7);
    const v128_t x0 = wasm_v128_load(x + i), x1 = wasm_v128_load(x + i + h);
    wasm_v128_store(x + i, wasm_f32x4_sub(wasm_f32x4_mul(x0, c), wasm_f32x4_mul(x1, s)));
    wasm_v128_store(x + i + h, wasm_f32x4_add(wasm_f32x4_mul(x0, s), wasm_f32x4_mul(x1, c)));
  }
  for (; i < h; i++) {
    const float c = cs[2 * i], s = cs[2 * i + 1], x0 = x[i], x1 = x[i + h];
    x[i] = x0 * c - x1 * s;
    x[i + h] = x0 * s + x1 * c;
  }
}

void EXPORT(rope)(float *x, const float *cs, int ntok, int n_head, int head_dim, int n_rot, int mode, int pos0) {
  for (int t = 0; t < ntok; t++) {
    const float *c = cs + (size_t)(pos0 + t) * n_rot; /* n_rot / 2 (cos, sin) pairs */
    for (int h = 0; h < n_head; h++) {
      float *xh = x + ((size_t)t * n_head + h) * head_dim;
      if (mode == 1) rope_head_neox(xh, c, n_rot);
      else rope_head_norm(xh, c, n_rot);
    }
  }
}

/* ggml_vec_swiglu_f32: silu(g) * u with silu(x) = x / (1 + e^-x). */
void EXPORT(glu_silu)(float *gate, const float *up, int n) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t g = wasm_v128_load(gate + i);
    const v128_t silu = wasm_f32x4_div(g, wasm_f32x4_add(wasm_f32x4_splat(1.0f), exp_f32x4(wasm_f32x4_neg(g))));
    wasm_v128_store(gate + i, wasm_f32x4_mul(silu, wasm_v128_load(up + i)));
  }
  for (; i < n; i++) gate[i] = gate[i] / (1.0f + expf_(-gate[i])) * up[i];
}

/* ggml_vec_geglu_f32 with GGML_GELU_FP16: x <= -10: 0; x >= 10: x * u; else table[f16(x)] * u. */
void EXPORT(glu_gelu)(float *gate, const float *up, int n, const uint16_t *table) {
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t x = wasm_v128_load(gate + i);
    const v128_t h = f32x4_to_f16x4(x);
    const v128_t t = wasm_i32x4_make(table[wasm_i32x4_extract_lane(h, 0)], table[wasm_i32x4_extract_lane(h, 1)], table[wasm_i32x4_extract_lane(h, 2)],
                                     table[wasm_i32x4_extract_lane(h, 3)]);
    v128_t g = wasm_v128_bitselect(x, f16x4_to_f32x4(t), wasm_f32x4_ge(x, wasm_f32x4_splat(10.0f)));
    g = wasm_f32x4_mul(g, wasm_v128_load(up + i));
    wasm_v128_store(gate + i, wasm_v128_andnot(g, wasm_f32x4_le(x, wasm_f32x4_splat(-10.0f))));
  }
  for (; i < n; i++) {
    const float x = gate[i];
    float g;
    if (x <= -10.0f) g = 0.0f;
    else if (x >= 10.0f) g = x;
    else g = f16_to_f32(table[f32_to_f16(x)]);
    gate[i] = x <= -10.0f ? 0.0f : g * up[i];
  }
}

void EXPORT(add_scaled)(float *y, const float *x, float s, int n) {
  const v128_t vs = wasm_f32x4_splat(s);
  int i = 0;
  for (; i + 4 <= n; i += 4) wasm_v128_store(y + i, wasm_f32x4_add(wasm_v128_load(y + i), wasm_f32x4_mul(wasm_v128_load(x + i), vs)));
  for (; i < n; i++) y[i] += s * x[i];
}
