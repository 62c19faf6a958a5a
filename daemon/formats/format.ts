/**
 * One tensor format (a ggml type) as the engine knows it: block layout, how activations are converted
 * before a matmul with it (ggml's vec_dot_type), the reference dequantisation every kernel is tested
 * against, and the names of its kernels on each backend. Every format lives in one file of this folder
 * and is listed once in table.ts: adding a type touches that file, its WGSL block function
 * (shaders/formats/<name>.wgsl) and its CPU kernel (daemon/cpu/kernels/<name>.c), nothing else.
 *
 * A format can be known (its layout and reference dequantisation are here, the float64 reference forward
 * pass and the model generator use it) before a backend has a kernel for it: `wgsl` / `cpu` stay undefined
 * until then, and the loader accepts a weight type only where the backend it runs on has its kernel
 * (table.ts: SUPPORTED_WEIGHT_TYPES, hasKernel).
 *
 * Reference code here is exact: every value a format stores becomes the f32 ggml's dequantize_row_*
 * computes (Math.fround wherever ggml rounds to f32; in most layouts the products are exact in f32 and
 * only a final addition rounds, which JavaScript's double arithmetic then rounds identically when the
 * result is stored into a Float32Array). The activation side of each format (`activation`) has its
 * byte-exact quantizer in activation-*.ts.
 */
import type { GgmlType } from '../gguf/ggml-types.js';

/**
 * What the activations of a matmul become before the dot products (ggml-cpu's vec_dot_type):
 *   f32   as is
 *   f16   rounded to f16 (round to nearest even)
 *   bf16  rounded to bf16 (round to nearest even)
 *   q8_0  blocks of 32: f16 d = amax/127, int8 q = round_half_even(x·127/amax)   (x86 quantize_row_q8_0)
 *   q8_1  as q8_0, plus s = f16(d·Σq) with d the f32 amax/127                      (x86 quantize_row_q8_1)
 *   q8_K  blocks of 256: f32 d, int8 q, int16 bsums per 16                         (quantize_row_q8_K_ref,
 *         which x86 runs as is)
 * Byte-exact quantizers for each: activation.ts (ACTIVATION_CODECS).
 */
export type ActivationFormat = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q8_1' | 'q8_K';

/**
 * One byte range of a block, stored by the WebGPU backend as a region of its own. A row shard of a matrix
 * on the GPU is one region per plane, in order, each starting 16-byte aligned: region p holds plane p of
 * block 0, 1, 2, … of the shard (blocks row-major), `stride` bytes per block — the plane's bytes, then zero
 * padding. A stride is 1 or 2 (four or two blocks share a 32-bit word) or a multiple of 4, so that the WGSL
 * block functions read whole words; a multiple of 16 lets them read vec4<u32> words. Splitting serves
 * blocks whose size is not a multiple of 4 (Q8_0's 34 bytes: quants in one plane, the f16 scale in another)
 * and puts the quants of 16-byte multiples where vector loads reach them (Q6_K's 208 bytes of quants and
 * scales, then d). The ranges are of the block after `gpuReorder`, when the format has one.
 */
export interface GpuPlane {
  /** First byte of the range in the file's block. */
  readonly from: number;
  readonly bytes: number;
  /** GPU bytes per block (≥ bytes; default bytes). */
  readonly stride?: number;
}

export interface TensorFormat {
  readonly type: GgmlType;
  /** ggml's name, e.g. 'Q4_K'. */
  readonly name: string;
  /** Elements per block. */
  readonly blockSize: number;
  /** Bytes per block in a GGUF file. */
  readonly typeSize: number;
  readonly activation: ActivationFormat;
  /**
   * ggml's dequantize_row_*: `nBlocks` blocks from `src` (at byte 0) into dst[dstOffset ..], exactly
   * (every value a format stores is an f32 after dequantisation; the f32 products are rounded as ggml
   * rounds them).
   */
  dequantize(src: Uint8Array, nBlocks: number, dst: Float32Array, dstOffset: number): void;
  /**
   * Formats whose values are q·d + m per block of 32 with an additive min m (Q4_1, Q5_1): writes each
   * block's m (f32). ggml's dot product against their Q8_1 activations adds m · s, s being the activation
   * block's stored f16 sum, not the sum of its dequantised values; an exact reference needs m apart.
   */
  blockMins?(src: Uint8Array, nBlocks: number, dst: Float32Array, dstOffset: number): void;
  /**
   * ggml's quantize_row_*_ref bit for bit, for the formats with a simple reference quantizer (tests, the
   * model generator, the GGUF writer); absent for the K-quants, IQ4_* (their ggml quantizers search).
   */
  quantize?(src: Float32Array, dst: Uint8Array, dstOffset: number): void;
  /** The GPU matmul's block function: shaders/formats/<wgsl>.wgsl; absent until the WebGPU backend has one. */
  readonly wgsl?: string;
  /**
   * How the WebGPU backend stores the blocks (daemon/gpu/weight-layout.ts); absent: one plane, the block as
   * in the file. See GpuPlane.
   */
  readonly gpuPlanes?: readonly GpuPlane[];
  /**
   * Rearranges the bits of one block (typeSize bytes at src[s ..]) into dst[d ..] (typeSize bytes) before
   * the WebGPU backend cuts it into planes; absent: the block as in the file. The K-quants use it to store
   * each 32-value chunk's bits together (gpu-order.ts), so that the GPU reads a chunk with one or two loads.
   */
  gpuReorder?(src: Uint8Array, s: number, dst: Uint8Array, d: number): void;
  /** The CPU backend's matmul export suffix (matmul_<cpu>); absent until the CPU backend has one. */
  readonly cpu?: string;
}
