/*
 * Causal attention over an f32 or f16 KV cache (llama.cpp's build_attn_mha without flash attention: kq =
 * k·q, scaled, optionally soft-capped, softmax, kqv = v·softmax). The query heads that read the same KV
 * head are processed four at a time, so each K and V row is loaded (and widened from f16) once for four
 * heads; their scores sit interleaved in scratch ([position][4]) so the softmax runs on whole vectors.
 */
#include "common.h"
#include "mathf.h"

#define ATT_MAX_HD 1024

/* KV values idx .. idx+7 as two f32x4. */
INLINE void kv_load8(const void *base, size_t idx, int f16, v128_t *lo, v128_t *hi) {
  if (f16) {
    const v128_t v = wasm_v128_load((const uint16_t *)base + idx);
    *lo = f16x8_low_to_f32x4(v);
    *hi = f16x8_high_to_f32x4(v);
  } else {
    *lo = wasm_v128_load((const float *)base + idx);
    *hi = wasm_v128_load((const float *)base + idx + 4);
  }
}

INLINE float kv_load1(const void *base, size_t idx, int f16) {
  return f16 ? f16_to_f32(((const uint16_t *)base)[idx]) : ((const float *)base)[idx];
}

INLINE v128_t round_f16x4(v128_t v) { return f16x4_to_f32x4(f32x4_to_f16x4(v)); }

/* Scores of four query heads (qb: [4][hd]) against positions 0..nkv-1 of one KV head, into s [nkv][4];
 * returns the per-head maximum. */
INLINE v128_t att_scores(const float *qb, const void *k, size_t kstride, size_t koff, int hd, int nkv, int f16, float scale, float softcap, float *s) {
  v128_t mx = wasm_f32x4_splat(-__builtin_inff());
  const int hd8 = hd & ~7;
  for (int j = 0; j < nkv; j++) {
    const size_t kj = (size_t)j * kstride + koff;
    v128_t a[8];
    for (int i = 0; i < 8; i++) a[i] = wasm_f32x4_splat(0);
    for (int d = 0; d < hd8; d += 8) {
      v128_t lo, hi;
      kv_load8(k, kj + d, f16, &lo, &hi);
      for (int i = 0; i < 4; i++) {
        a[2 * i] = wasm_f32x4_add(a[2 * i], wasm_f32x4_mul(lo, wasm_v128_load(qb + i * hd + d)));
        a[2 * i + 1] = wasm_f32x4_add(a[2 * i + 1], wasm_f32x4_mul(hi, wasm_v128_load(qb + i * hd + d + 4)));
      }
    }
    v128_t sc = hsum4_f32x4(wasm_f32x4_add(a[0], a[1]), wasm_f32x4_add(a[2], a[3]), wasm_f32x4_add(a[4], a[5]), wasm_f32x4_add(a[6], a[7]));
    for (int d = hd8; d < hd; d++) {
      const float kd = kv_load1(k, kj + d, f16);
      sc = wasm_f32x4_add(sc, wasm_f32x4_mul(wasm_f32x4_splat(kd), wasm_f32x4_make(qb[d], qb[hd + d], qb[2 * hd + d], qb[3 * hd + d])));
    }
    sc = wasm_f32x4_mul(sc, wasm_f32x4_splat(scale));
    if (softcap > 0) {
      const v128_t cap = wasm_f32x4_splat(softcap);
      sc = wasm_f32x4_mul(cap, tanh_f32x4(wasm_f32x4_div(sc, cap)));
    }
    wasm_v128_store(s + 4 * j, sc);
    mx = wasm_f32x4_pmax(mx, sc);
  }
  return mx;
}

/* s [nkv][4] scores -> probabilities: exp(s - max), sum in double, times (float)(1 / sum); rounded to
 * f16 when the values are f16 (ggml converts them before the product with V). */
INLINE void att_softmax(float *s, int nkv, v128_t mx, int f16) {
  v128_t sum01 = wasm_f64x2_splat(0), sum23 = sum01;
  for (int j = 0; j < nkv; j++) {
    const v128_t e = exp_f32x4(wasm_f32x4_sub(wasm_v128_load(s + 4 * j), mx));
    wasm_v128_store(s + 4 * j, e);
    sum01 = wasm_f64x2_add(sum01, wasm_f64x2_promote_low_f32x4(e));
    sum23 = wasm_f64x2_add(sum23, wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(e, e, 2, 3, 0, 1)));
  }
  const v128_t inv01 = wasm_f64x2_div(wasm_f64x2_splat(1.0), sum01);
  const v128_t inv23 = wasm_f64x2_div(wasm_f64x2_splat(1.0), sum23);
  const v128_t lo = wasm_f32x4_demote_f64x2_zero(inv01), hi = wasm_f32x4_demote_f64x2_zero(inv23);
  const v128_t inv = wasm_i32x4_shuffle(lo, hi, 0, 1, 4, 5);
  for (int j = 0; j < nkv; j++) {
    v128_t p = wasm_f32x4_mul(wasm_v128_load(s + 4 * j), inv);
    if (f16) p = round_f16x4(p);
    wasm_v128_store(s + 4 * j, p);
  }
}

/* out_i[d] = sum_j p[j][i] * v_j[d] for the hn (<= 4) heads, hd values each, out rows ostride apart. */
INLINE void att_values(const float *p, const void *v, size_t vstride, size_t voff, int hd, int nkv, int f16, float *out, size_t ostride, int hn) {
  const int hd8 = hd & ~7;
  for (int d = 0; d < hd8; d += 8) {
    v128_t o[8];
    for (int i = 0; i < 8; i++) o[i] = wasm_f32x4_splat(0);
    for (int j = 0; j < nkv; j++) {
      v128_t lo, hi;
      kv_load8(v, (size_t)j * vstride + voff + d, f16, &lo, &hi);
      const v128_t pj = wasm_v128_load(p + 4 * j);
      const v128_t p0 = wasm_i32x4_shuffle(pj, pj, 0, 0, 0, 0), p1 = wasm_i32x4_shuffle(pj, pj, 1, 1, 1, 1);
      const v128_t p2 = wasm_i32x4_shuffle(pj, pj, 2, 2, 2, 2), p3 = wasm_i32x4_shuffle(pj, pj, 3, 3, 3, 3);
      o[0] = wasm_f32x4_add(o[0], wasm_f32x4_mul(p0, lo));
      o[1] = wasm_f32x4_add(o[1], wasm_f32x4_mul(p0, hi));
      o[2] = wasm_f32x4_add(o[2], wasm_f32x4_mul(p1, lo));
      o[3] = wasm_f32x4_add(o[3], wasm_f32x4_mul(p1, hi));
      o[4] = wasm_f32x4_add(o[4], wasm_f32x4_mul(p2, lo));
      o[5] = wasm_f32x4_add(o[5], wasm_f32x4_mul(p2, hi));
      o[6] = wasm_f32x4_add(o[6], wasm_f32x4_mul(p3, lo));
      o[7] = wasm_f32x4_add(o[7], wasm_f32x4_mul(p3, hi));
    }
    for (int i = 0; i < hn; i++) {
      wasm_v128_store(out + i * ostride + d, o[2 * i]);
      wasm_v128_store(out + i * ostride + d + 4, o[2 * i + 1]);
    }
  }
  for (int d = hd8; d < hd; d++) {
    for (int i = 0; i < hn; i++) {
      float acc = 0;
      for (int j = 0; j < nkv; j++) acc += p[4 * j + i] * kv_load1(v, (size_t)j * vstride + voff + d, f16);
      out[i * ostride + d] = acc;
    }
  }
}

void EXPORT(attention)(const float *q, const void *k, const void *v, float *out, float *scratch, int ntok, int n_head, int n_head_kv, int hd_k,
                       int hd_v, int h_off, int kv_off, int group, int pos0, float scale, float softcap, int kv_f16) {
  if (hd_k > ATT_MAX_HD || hd_v > ATT_MAX_HD || group <= 0) __builtin_trap();
  float qb[4 * ATT_MAX_HD];
  const size_t kstride = (size_t)n_head_kv * hd_k, vstride = (size_t)n_head_kv * hd_v;
  for (int t = 0; t < ntok; t++) {
    const int nkv = pos0 + t + 1;
    for (int h0 = 0; h0 < n_head;) {
      const int kvh = (h0 + h_off) / group - kv_off;
      int hn = 1;
      while (hn < 4 && h0 + hn < n_head && (h0 + hn + h_off) / group - kv_off == kvh) hn++;
      for (int i = 0; i < 4; i++) {
        const float *qh = q + ((size_t)t * n_head + h0 + min_int(i, hn - 1)) * hd_k;
        float *qd = qb + i * hd_k;
        int d = 0;
        for (; d + 4 <= hd_k; d += 4) {
          const v128_t x = wasm_v128_load(qh + d);
          wasm_v128_store(qd + d, kv_f16 ? round_f16x4(x) : x);
        }
        for (; d < hd_k; d++) qd[d] = kv_f16 ? f16_to_f32(f32_to_f16(qh[d])) : qh[d];
      }
      const v128_t mx = att_scores(qb, k, kstride, (size_t)kvh * hd_k, hd_k, nkv, kv_f16, scale, softcap, scratch);
      att_softmax(scratch, nkv, mx, kv_f16);
      att_values(scratch, v, vstride, (size_t)kvh * hd_v, hd_v, nkv, kv_f16, out + ((size_t)t * n_head + h0) * hd_v, (size_t)hd_v, hn);
      h0 += hn;
    }
  }
}
