/**
 * The places where llama.cpp's CPU backend (ggml-cpu, x86 with AVX2/AVX-512) rounds differently from
 * exact arithmetic by more than float32 noise, written out so a float64 reference can reproduce them.
 * Each is used by forward-reference.ts behind a named option.
 *
 *  - Matmul activations: ggml converts the activations (src1) of a matmul to the weight's vec_dot_type
 *    (ggml-cpu.c mul_mat; formats/format.ts TensorFormat.activation) before the dot products: rounded to
 *    f16 / bf16 for F16 / BF16 weights, quantized to Q8_0 blocks of 32 (Q8_0, Q4_0, Q5_0, IQ4_NL, MXFP4),
 *    Q8_1 (Q4_1, Q5_1) or Q8_K blocks of 256 (the K-quants, IQ4_XS). The exact conversions are the codecs of
 *    formats/activation.ts; the dot product is then W_dequant · (what the codec decodes), plus for Q8_1 the
 *    stored block sums (see reference-ops.ts matmul).
 *  - GELU: with GGML_GELU_FP16 (always defined in vec.h), gelu(x) for -10 < x < 10 is a table lookup:
 *    f16(gelu_f32(f16(x))), with gelu_f32 the tanh approximation evaluated in f32.
 *  - RoPE angles: theta_scale = powf(freq_base, -2/n_dims) in f32, and theta_i = p·theta_scale^i is
 *    built by repeated f32 multiplication (ops.cpp ggml_rope_cache_init).
 */
import { activationAsSeen } from '../../formats/activation.js';
import type { ActivationFormat } from '../../formats/format.js';
import { f16BitsToF32, f32ToF16Bits } from '../../gguf/quantize.js';

const fr = Math.fround;

/** A value rounded to f32 then to f16 (ggml's GGML_CPU_FP32_TO_FP16 on an f32 activation). */
export function roundF16(x: number): number {
  return f16BitsToF32(f32ToF16Bits(x));
}

/**
 * A float64 activation row as ggml's dot products see it after conversion to `format` (values rounded to
 * f32 first, as ggml holds them). `blockSums` only for q8_1: the stored per-block sums s.
 */
export function activationAsGgmlSees(format: ActivationFormat, x: Float64Array): { values: Float64Array; blockSums?: Float64Array } {
  if (format === 'f32') return { values: x };
  return activationAsSeen(format, Float32Array.from(x));
}

const SQRT_2_OVER_PI = fr(0.79788456080286535587989211986876);
const GELU_COEF_A = fr(0.044715);

/** ggml_gelu_f32: the tanh approximation with every step in f32. */
export function geluF32(x: number): number {
  x = fr(x);
  const inner = fr(fr(SQRT_2_OVER_PI * x) * fr(1 + fr(fr(GELU_COEF_A * x) * x)));
  return fr(fr(0.5 * x) * fr(1 + fr(Math.tanh(inner))));
}

/** Exact tanh-approximation GELU in float64 (for comparison with the emulated one). */
export function geluExact(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * x * (1 + 0.044715 * x * x)));
}

let geluTable: Float64Array | undefined;

/** ggml_vec_gelu_f32 with GGML_GELU_FP16: through the f16 table for -10 < x < 10. */
export function geluGgml(x: number): number {
  const xf = fr(x);
  if (xf <= -10) return 0;
  if (xf >= 10) return xf;
  if (!geluTable) {
    geluTable = new Float64Array(65536);
    for (let h = 0; h < 65536; h++) geluTable[h] = roundF16(geluF32(f16BitsToF32(h)));
  }
  return geluTable[f32ToF16Bits(xf)]!;
}

/** ggml_silu_f32 in exact arithmetic (ggml's vectorised exp differs by float32 noise only). */
export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/**
 * RoPE angles θ_i = p · base^(-2i/n_dims) for i in [0, n_dims/2).
 * `f32Theta`: as ggml-cpu computes them (f32 powf, then repeated f32 multiplication); else exact.
 */
export function ropeAngles(p: number, nDims: number, freqBase: number, f32Theta: boolean): Float64Array {
  const out = new Float64Array(nDims / 2);
  if (f32Theta) {
    const thetaScale = fr(Math.pow(fr(freqBase), fr(-2 / nDims)));
    let theta = fr(p);
    for (let i = 0; i < nDims / 2; i++) {
      out[i] = theta;
      theta = fr(theta * thetaScale);
    }
  } else {
    for (let i = 0; i < nDims / 2; i++) out[i] = p * Math.pow(freqBase, (-2 * i) / nDims);
  }
  return out;
}
