/*
 * The CPU backend's kernels: C compiled to WebAssembly (wasm32, SIMD128, shared memory), one module
 * instance per worker thread, each over its own WebAssembly.Memory. This header is the contract
 * between the kernels and the TypeScript runtime (daemon/cpu/): every pointer is an address in the
 * worker's memory, every count an int32. The kernels allocate nothing: the runtime places weights,
 * activations and scratch above __heap_base. No kernel reads or writes outside the ranges below.
 *
 * The module, built by build-wasm.mjs in two variants with the same exports and bit-identical results:
 * dist/moecode-cpu.wasm (SIMD128, any engine with wasm SIMD) and, where a clang >= 16 is installed,
 * dist/moecode-cpu-relaxed.wasm (relaxed SIMD: faster Q4_0/Q4_1/Q5_x/MXFP4 and K-quant dot products; Node 20 compiles it only after
 * v8.setFlagsFromString('--experimental-wasm-relaxed-simd'), VS Code's Electron by default). The runtime
 * takes the relaxed one when it exists and WebAssembly.validate accepts it, else the baseline.
 * Each imports `env.memory`, a shared memory with maximum 65536 pages (4 GiB) and at least
 * ceil(__heap_base / 65536) pages, and exports the functions below and the global `__heap_base`. Its
 * 1 MiB stack sits at the start of memory (an overflow traps instead of corrupting data); kernels keep
 * working copies of activations there (at most ~260 KiB), which bounds some sizes (below). A size past a
 * bound traps (`unreachable`), it never reads or writes out of range. No export is thread-safe against
 * another call on the same instance (each worker calls its own instance, one call at a time).
 *
 * Numerics follow llama.cpp's x86 CPU backend (ggml-cpu), so results match it:
 *  - before a matmul, activations are converted to the weight format's vec_dot_type (ActivationFormat in
 *    daemon/formats/format.ts): f32, f16, bf16, q8_0, q8_1 or q8_K, with ggml's x86 rounding;
 *  - quantised dot products are integer sums per block times the block scales, as ggml's vec_dot_*;
 *  - float dot products widen both sides to f32 and sum in f32 (the order of the sums differs from
 *    ggml's, so results agree to float32 rounding, not bit for bit).
 *
 * Layouts are ggml's (ggml-common.h). Weight rows: `ncols` values as ncols/blockSize blocks; row r of a
 * matrix starts at W + r * row_bytes(ncols). Activation rows likewise, in the activation format:
 *   q8_0  block { f16 d; int8 qs[32]; }                 34 bytes per 32 values
 *   q8_1  block { f16 d; f16 s; int8 qs[32]; }          36 bytes per 32 values (s = d * sum(qs))
 *   q8_K  block { float d; int8 qs[256]; int16 bsums[16]; }  292 bytes per 256 values (qs in −127..127, as
 *         quantize_row_q8_K writes them; the IQ4_XS relaxed kernel relies on |q| <= 127; bsums as written)
 *   f16 / bf16: 2 bytes per value; f32: 4 bytes per value.
 * No alignment is required of any pointer (aligned data is faster).
 */
#ifndef MOECODE_CPU_H
#define MOECODE_CPU_H
#include <stdint.h>

/* Exports a function under its own name (the argument is macro-expanded first, so generated names work). */
#define MOECODE_STR2(x) #x
#define MOECODE_STR(x) MOECODE_STR2(x)
#define EXPORT(name) __attribute__((export_name(MOECODE_STR(name)))) name

/* --- activation conversion: n values (a whole number of blocks) of one row ---------------------- */
/* q8_0 / q8_1: x86 AVX2 quantize_row_q8_0 / q8_1 (d = amax/127 as f16, q = round_half_even(x * 127/amax),
 * q8_1's s = f16(d_f32 * sum(q))). q8_K: quantize_row_q8_K_ref (an all-zero block gets d = 0, qs = 0 and
 * bsums = 0; ggml leaves its bsums unwritten). f16 / bf16: round to nearest even; n may be any count. */
void quantize_row_q8_0(const float *x, void *y, int n);
void quantize_row_q8_1(const float *x, void *y, int n);
void quantize_row_q8_K(const float *x, void *y, int n);
void convert_row_f16(const float *x, uint16_t *y, int n);
void convert_row_bf16(const float *x, uint16_t *y, int n);

/*
 * --- matmul, one export per weight format <fmt> (f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, iq4_nl,
 * mxfp4, q2_K, q3_K, q4_K, q5_K, q6_K, iq4_xs):
 *   for t < ntok, r < nrows:  y[t * ystride + r] = dot(W row r, X row t)
 * W: nrows rows of ncols values; X: ntok rows of ncols values in the format's activation type,
 * contiguous; y: f32 (ystride >= nrows; y must not overlap W or X). Bounds: ncols <= 65536.
 * ntok == 1 streams W once, row after row (decode); ntok > 1 runs one weight row against 4 tokens at a
 * time, over panels of rows that stay in cache while every token passes (prefill): W is read from memory
 * about once per call either way. A tail of 2..3 tokens costs a whole tile of 4.
 */
void matmul_f32(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_f16(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_bf16(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_q8_0(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_q4_0(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
/* 32-value blocks: q4_1 and q5_1 against q8_1 activations (the min times the activation block's stored
 * sum s, as ggml), q5_0, iq4_nl and mxfp4 against q8_0 (mxfp4's E8M0 scale as GGML_E8M0_TO_FP32_HALF). */
void matmul_q4_1(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_q5_0(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_q5_1(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_iq4_nl(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_mxfp4(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
/* On q8_K activations (256-value super-blocks; matmul-qk.h). Bounds: ncols <= 65536, a multiple of 256. */
void matmul_q2_K(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_q3_K(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_q4_K(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_q5_K(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_q6_K(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);
void matmul_iq4_xs(const void *W, const void *X, float *y, int nrows, int ncols, int ntok, int ystride);

/* --- dequantisation of n values (whole blocks) of one row, per format <fmt> (embedding lookup) ---- */
void dequantize_row_f32(const void *src, float *y, int n);
void dequantize_row_f16(const void *src, float *y, int n);
void dequantize_row_bf16(const void *src, float *y, int n);
void dequantize_row_q8_0(const void *src, float *y, int n);
void dequantize_row_q4_0(const void *src, float *y, int n);
void dequantize_row_q4_1(const void *src, float *y, int n);
void dequantize_row_q5_0(const void *src, float *y, int n);
void dequantize_row_q5_1(const void *src, float *y, int n);
void dequantize_row_iq4_nl(const void *src, float *y, int n);
void dequantize_row_mxfp4(const void *src, float *y, int n);
void dequantize_row_q2_K(const void *src, float *y, int n);
void dequantize_row_q3_K(const void *src, float *y, int n);
void dequantize_row_q4_K(const void *src, float *y, int n);
void dequantize_row_q5_K(const void *src, float *y, int n);
void dequantize_row_q6_K(const void *src, float *y, int n);
void dequantize_row_iq4_xs(const void *src, float *y, int n);

/* --- f32 ops ------------------------------------------------------------------------------------- */

/* y[r] = x[r] / sqrt(mean(x[r]^2) + eps) * (w ? w : 1), for nrows rows of n values (y may be x).
 * As ggml: x^2 in f32 summed in double, mean and scale in f32, y = (x * scale) * w. */
void rms_norm(const float *x, const float *w, float *y, int n, int nrows, float eps);

/*
 * RoPE in place on x: ntok rows of n_head heads of head_dim values; token t is at position pos0 + t.
 * cs: [n_ctx][n_rot/2] pairs (cos, sin) as f32, precomputed by the runtime (daemon/gpu/rope-table.ts:
 * ggml's angles, frequency factors and scaling included). mode 0 rotates (2i, 2i+1) (NORM), mode 1
 * rotates (i, i + n_rot/2) (NEOX). Values past n_rot stay. n_rot even, <= head_dim.
 */
void rope(float *x, const float *cs, int ntok, int n_head, int head_dim, int n_rot, int mode, int pos0);

/*
 * Causal attention over a KV cache for ntok query tokens at positions pos0 .. pos0+ntok-1.
 * q: [ntok][n_head][hd_k] f32. out: [ntok][n_head][hd_v] f32.
 * k: [n_ctx][n_head_kv][hd_k], v: [n_ctx][n_head_kv][hd_v], as f32 (kv_f16 = 0) or f16 (kv_f16 = 1);
 * positions 0 .. pos0+t are read for token t. Query head h reads kv head kv_of(h) = (h + h_off) / group
 * - kv_off (a worker holds a slice of heads: h_off is its first global query head, kv_off its first kv
 * head, group = n_head_total / n_head_kv_total).
 * score = scale * q.k; if softcap > 0: score = softcap * tanh(score / softcap); softmax over positions
 * in f32 with max subtraction (exp(s - max), sum in double, times (float)(1/sum), as ggml_soft_max);
 * out = sum p * v. With kv_f16, q is rounded to f16 before q.k and the probabilities to f16 before p.v
 * (ggml's mul_mat with F16 K/V converts src1 to F16).
 * scratch: at least 4 * (pos0 + ntok) floats (the scores of up to four query heads that share a kv head
 * are kept side by side). Bounds: hd_k, hd_v <= 1024.
 */
void attention(const float *q, const void *k, const void *v, float *out, float *scratch, int ntok, int n_head, int n_head_kv,
               int hd_k, int hd_v, int h_off, int kv_off, int group, int pos0, float scale, float softcap, int kv_f16);

/* gate[i] = silu(gate[i]) * up[i] (ggml_silu_f32: x / (1 + expf(-x))), n values. */
void glu_silu(float *gate, const float *up, int n);
/* gate[i] = gelu(gate[i]) * up[i], GELU through ggml's f16 table (x <= -10: 0, x >= 10: x), as
 * ggml_vec_geglu_f32; gelu_f16_table: 65536 f16 entries indexed by the f16 bits of x
 * (daemon/gpu/gelu-table.ts). */
void glu_gelu(float *gate, const float *up, int n, const uint16_t *gelu_f16_table);

/* y[i] += s * x[i], n values. */
void add_scaled(float *y, const float *x, float s, int n);

/* --- benchmark probe ------------------------------------------------------------------------------ */
/* *out = the sum of n f32 values (read bandwidth probe for tools/bench/bench-cpu-kernels.ts). */
void stream_sum_f32(const float *x, int n, float *out);

#endif
