/**
 * CPU reference of shaders/glu.wgsl: ggml's swiglu / geglu on split gate and up halves,
 * out[i] = act(gate[i]) · up[i].
 *  - SiLU: x / (1 + e^-x), float64.
 *  - GELU (tanh form): 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))), float64.
 *  - GELU as ggml-cpu evaluates it (GGML_GELU_FP16, vec.h ggml_vec_geglu_f32): x <= -10 → 0, x >= 10 → x,
 *    otherwise the f16 table entry f16(ggml_gelu_f32(f16(x))), with ggml_gelu_f32 evaluated in f32
 *    (ggml-cpu.c builds ggml_table_gelu_f16 at init); the product with up in f32. 'gelu-f16' builds the
 *    table as an FMA-enabled x86-64 build does, 'gelu-f16-nofma' without the contraction.
 */
import { f16BitsToF32, f32ToF16Bits } from '../../gguf/quantize.js';

export type GluActRef = 'silu' | 'gelu' | 'gelu-f16' | 'gelu-f16-nofma';

const f = Math.fround;
const SQRT_2_OVER_PI = f(0.79788456080286535587989211986876);
const GELU_COEF_A = f(0.044715);

export function siluRef(x: number): number {
  return x / (1 + Math.exp(-x));
}

export function geluRef(x: number): number {
  return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * x * (1 + 0.044715 * x * x)));
}

/**
 * ggml_gelu_f32, `0.5f*x*(1.0f + tanhf(SQRT_2_OVER_PI*x*(1.0f + GELU_COEF_A*x*x)))` with f32 constants and
 * f32 rounding after every operation (tanhf taken as the f32-rounded tanh). With `fma`, `1.0f + A*x*x` is
 * one fused multiply-add, as GCC (-ffp-contract=fast, its default) and clang compile it when FMA is enabled
 * — the usual x86-64 llama.cpp build. Over all f16 inputs the two differ in one table entry (x = -1.999,
 * f16 0xbfff, a near tie in the f16 rounding).
 */
function geluF32(x: number, fma: boolean): number {
  const ax = f(GELU_COEF_A * x);
  const poly = fma ? f(1 + ax * x) : f(1 + f(ax * x)); // ax * x is exact in float64
  const inner = f(f(SQRT_2_OVER_PI * x) * poly);
  return f(f(0.5 * x) * f(1 + f(Math.tanh(inner))));
}

const geluTables = new Map<boolean, Float32Array>();

/**
 * ggml-cpu's GELU of an f32 value (GGML_GELU_FP16): exact 0 / x outside (-10, 10), else the entry of
 * ggml_table_gelu_f16 for f16(x) (built with or without the FMA contraction, see geluF32).
 */
export function geluGgmlF16Ref(x: number, fma = true): number {
  if (x <= -10) return 0;
  if (x >= 10) return f(x);
  let table = geluTables.get(fma);
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = f16BitsToF32(f32ToF16Bits(geluF32(f16BitsToF32(h), fma)));
    geluTables.set(fma, table);
  }
  return table[f32ToF16Bits(x)]!;
}

/** out[i] = act(gate[i]) · up[i] for i < n (all of gate when n is omitted). */
export function gluRef(gate: ArrayLike<number>, up: ArrayLike<number>, act: GluActRef, n = gate.length): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = gate[i]!;
    const u = up[i]!;
    if (act === 'silu') out[i] = siluRef(g) * u;
    else if (act === 'gelu') out[i] = geluRef(g) * u;
    else out[i] = f(geluGgmlF16Ref(g, act === 'gelu-f16') * u);
  }
  return out;
}
