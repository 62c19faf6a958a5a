/**
 * ggml's CPU backend evaluates GELU through a table indexed by the f16 bits of the input, holding
 * f16(gelu(x)) with gelu(x) = 0.5·x·(1 + tanh(√(2/π)·x·(1 + 0.044715·x²))). The GPU kernel uses the same
 * table, built here, so that results match llama.cpp bit for bit: computing the same values on the
 * GPU's own tanh flips f16 roundings now and then. [32768] u32, two f16 entries each.
 */
import { f16BitsToF32, f32ToF16Bits } from '../formats/half.js';

const SQRT_2_OVER_PI = 0.7978845608028654;
const GELU_COEF_A = 0.044715;

let cached: Uint32Array<ArrayBuffer> | undefined;

export function geluF16Table(): Uint32Array<ArrayBuffer> {
  if (cached) return cached;
  const f = Math.fround;
  const halves = new Uint16Array(65536);
  for (let i = 0; i < 65536; i++) {
    const x = f16BitsToF32(i);
    const inner = f(f(SQRT_2_OVER_PI * x) * f(1 + f(f(GELU_COEF_A * x) * x)));
    const y = f(f(0.5 * x) * f(1 + f(Math.tanh(inner))));
    halves[i] = Number.isFinite(y) ? f32ToF16Bits(y) : f32ToF16Bits(Number.isNaN(y) ? NaN : y);
  }
  cached = new Uint32Array(halves.buffer);
  return cached;
}
