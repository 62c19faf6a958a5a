/**
 * How the WebGPU backend feeds activations to a matmul, per ActivationFormat (the weight format's
 * `activation`, ggml's vec_dot_type; daemon/formats/format.ts): which reader the matmul kernel is composed
 * with (shaders/activations/<reader>.wgsl) and the kernel that converts the f32 activation rows first,
 * once per activation and format (bit for bit as the codecs in daemon/formats/activation-*.ts): the 8-bit
 * formats are quantised, f16 / bf16 rounded (and kept as f32); f32 is read as it is.
 *
 * Q8_0, Q8_1 and Q8_K share one GPU layout (shaders/activations/q8.wgsl): int8 quants [rows, cols], and per
 * 32 values a pair of words (d, and Q8_0: Σ q, Q8_1: the stored sum s, Q8_K: the two 16-value bsums).
 */
import type { ActivationFormat } from '../formats/format.js';
import type { KernelName } from './kernels.js';

export interface ActivationConverter {
  kernel: KernelName;
  constants: Record<string, number>;
  /** Values per invocation (a quantisation block): a row must be a whole number of them. */
  block: number;
  /**
   * Bytes of the converted copy of `n` values: `values` at binding 3 of the matmul, `sums` (the q8 block
   * words, 0 when none) at binding 7. The kernel writes them at its bindings 3 and 4.
   */
  bytes(n: number): { values: number; sums: number };
}

export interface GpuActivation {
  /** shaders/activations/<reader>.wgsl */
  reader: 'f32' | 'f32x8' | 'q8';
  /** Values per chunk the reader hands the format's chunk_dot (CHUNK in the reader). */
  chunk: number;
  converter?: ActivationConverter;
}

/** Bytes of the q8 layout for `n` values: int8 quants and a pair of words per 32. */
export function q8Bytes(n: number): { values: number; sums: number } {
  return { values: n, sums: (n / 32) * 8 };
}

const roundedBytes = (n: number) => ({ values: 4 * n, sums: 0 });

export const GPU_ACTIVATIONS: Readonly<Record<ActivationFormat, GpuActivation>> = {
  f32: { reader: 'f32', chunk: 4 },
  f16: { reader: 'f32x8', chunk: 8, converter: { kernel: 'round_activations', constants: {}, block: 4, bytes: roundedBytes } },
  bf16: { reader: 'f32x8', chunk: 8, converter: { kernel: 'round_activations', constants: { BF16: 1 }, block: 4, bytes: roundedBytes } },
  q8_0: { reader: 'q8', chunk: 32, converter: { kernel: 'quantize_q8', constants: {}, block: 32, bytes: q8Bytes } },
  q8_1: { reader: 'q8', chunk: 32, converter: { kernel: 'quantize_q8', constants: { Q8_1: 1 }, block: 32, bytes: q8Bytes } },
  q8_K: { reader: 'q8', chunk: 32, converter: { kernel: 'quantize_q8_k', constants: {}, block: 256, bytes: q8Bytes } },
};
