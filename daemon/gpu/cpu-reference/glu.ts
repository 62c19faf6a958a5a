/**
 * CPU reference of shaders/glu.wgsl: ggml's swiglu / geglu on split gate and up halves,
 * out[i] = act(gate[i]) · up[i].
 *  - SiLU: x / (1 + e^-x), float64.
 *  - GELU (tanh form): 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))), float64.
 *  - GELU as ggml-cpu evaluates it (GGML_GELU_FP16, vec.h ggml_vec_geglu_f32): x <= -10 → 0, x >= 10 → x,
 *    otherwise the f16 table entry f16(ggml_gelu_f32(f16(x))), with ggml_gelu_f32 evaluated in f32
 *    (ggml-cpu.c builds ggml_table_gelu_f16 at init); the product with up in f32.
 */
import { f16BitsToF32, f32ToF16Bits } from '../../gguf/quantize.js';

export type GluActRef = 'silu' | 'gelu' | 'gelu-f16';

const f = Math.fround;
const SQRT_2_OVER_PI = f(0.79788456080286535587989211986876);
const GELU_COEF_A = f(0.044715);

export function siluRef(x: number): number {
  return x / (1 + Math.exp(-x));
}

export function geluRef(x: number): number {
  return 0.5 * x * (1 + Math.tanh(0.7978845608028654 * x * (1 + 0.044715 * x * x)));
}

/** ggml_gelu_f32 with f32 rounding after every operation (tanhf taken as the f32-rounded exact tanh). */
function geluF32(x: number): number {
  const inner = f(f(SQRT_2_OVER_PI * x) * f(1 + f(f(GELU_COEF_A * x) * x)));
  return f(f(0.5 * x) * f(1 + f(Math.tanh(inner))));
}

let geluTable: Float32Array | undefined;

/** ggml-cpu's GELU of an f32 value (GGML_GELU_FP16): exact 0 / x outside (-10, 10), else the f16 table. */
export function geluGgmlF16Ref(x: number): number {
  if (x <= -10) return 0;
  if (x >= 10) return f(x);
  if (!geluTable) {
    geluTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) geluTable[h] = f16BitsToF32(f32ToF16Bits(geluF32(f16BitsToF32(h))));
  }
  return geluTable[f32ToF16Bits(x)]!;
}

/** out[i] = act(gate[i]) · up[i] for i < n (all of gate when n is omitted). */
export function gluRef(gate: ArrayLike<number>, up: ArrayLike<number>, act: GluActRef, n = gate.length): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const g = gate[i]!;
    const u = up[i]!;
    if (act === 'silu') out[i] = siluRef(g) * u;
    else if (act === 'gelu') out[i] = geluRef(g) * u;
    else out[i] = f(geluGgmlF16Ref(g) * u);
  }
  return out;
}
