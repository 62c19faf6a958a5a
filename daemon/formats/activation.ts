/**
 * What llama.cpp's CPU backend (ggml-cpu, x86 AVX2/AVX-512) does to the activations of a matmul before the
 * dot products: it converts them to the weight's vec_dot_type (TensorFormat.activation) with that type's
 * `from_float`. Each ActivationFormat has a codec here that produces exactly those bytes from f32 values,
 * and decodes them into what the dot products then see.
 *
 * These are references in two senses: the float64 reference forward pass (gpu/cpu-reference) emulates
 * llama.cpp's rounding through `decode(quantize(x))`, and backend kernels that quantize activations
 * themselves (the WebAssembly CPU kernels) are tested against `quantize` bit for bit.
 */
import type { ActivationFormat } from './format.js';
import { ACT_BF16, ACT_F16, ACT_F32 } from './activation-float.js';
import { ACT_Q8_0 } from './activation-q8_0.js';
import { ACT_Q8_1 } from './activation-q8_1.js';
import { ACT_Q8_K } from './activation-q8_k.js';

export interface ActivationCodec {
  readonly format: ActivationFormat;
  /** Values per block (1 for the float formats). */
  readonly blockSize: number;
  /** Bytes per block. */
  readonly typeSize: number;
  /** ggml-cpu's from_float on x86 for this format: `src` (a whole number of blocks) → bytes at dst[dstOffset ..]. */
  quantize(src: Float32Array, dst: Uint8Array, dstOffset: number): void;
  /**
   * What the dot products see: values[i] = the activation as stored (q·d for the q8 formats, exactly), and,
   * when the format stores one, blockSums[b] = the stored per-block sum (q8_1's s), which ggml multiplies by
   * the weight's block min instead of Σ values.
   */
  decode(src: Uint8Array, n: number, values: Float64Array, blockSums?: Float64Array): void;
  /** Whether `decode` fills blockSums (q8_1 only). */
  readonly hasBlockSums: boolean;
}

export const ACTIVATION_CODECS: Readonly<Record<ActivationFormat, ActivationCodec>> = {
  f32: ACT_F32,
  f16: ACT_F16,
  bf16: ACT_BF16,
  q8_0: ACT_Q8_0,
  q8_1: ACT_Q8_1,
  q8_K: ACT_Q8_K,
};

/** Bytes of `n` activation values in `format` (n a whole number of blocks). */
export function activationBytes(format: ActivationFormat, n: number): number {
  const c = ACTIVATION_CODECS[format];
  if (n % c.blockSize) throw new Error(`${format} activations come in blocks of ${c.blockSize}, got ${n} values`);
  return (n / c.blockSize) * c.typeSize;
}

/** quantize + decode: the activation row as ggml's dot products see it. */
export function activationAsSeen(format: ActivationFormat, x: Float32Array): { values: Float64Array; blockSums?: Float64Array } {
  const c = ACTIVATION_CODECS[format];
  const bytes = new Uint8Array(activationBytes(format, x.length));
  c.quantize(x, bytes, 0);
  const values = new Float64Array(x.length);
  if (!c.hasBlockSums) {
    c.decode(bytes, x.length, values);
    return { values };
  }
  const blockSums = new Float64Array(x.length / c.blockSize);
  c.decode(bytes, x.length, values, blockSums);
  return { values, blockSums };
}
