/**
 * The CPU backend's WebAssembly kernels (daemon/cpu/kernels/, contract in moecode-cpu.h): locating the
 * built module, compiling it once per process, and the typed exports a rank calls. Every pointer is an
 * address in the rank's own memory.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as v8 from 'node:v8';
import { activationBytes } from '../formats/activation.js';
import type { ActivationFormat } from '../formats/format.js';

export const WASM_FILE = 'moecode-cpu.wasm';
/** The relaxed-SIMD build (faster Q4_0 dot products), when a new enough clang built it. */
export const WASM_RELAXED_FILE = 'moecode-cpu-relaxed.wasm';

export class CpuBackendUnavailableError extends Error {
  override name = 'CpuBackendUnavailableError';
}

/** `file` next to the bundle, or under the repository's dist/ when running from source. */
function findBuilt(file: string): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    for (const candidate of [join(dir, file), join(dir, 'dist', file)]) if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

/** The plain SIMD128 build (MOECODE_CPU_WASM overrides it). */
export function wasmPath(): string {
  const p = process.env.MOECODE_CPU_WASM ?? findBuilt(WASM_FILE);
  if (!p) throw new CpuBackendUnavailableError(`the CPU backend's kernels (${WASM_FILE}) are not built: run \`npm run build\` (needs clang and lld)`);
  return p;
}

let compiled: { module: WebAssembly.Module; relaxed: boolean } | undefined;

/**
 * The kernel module, compiled once per process (workers get it from the main thread): the relaxed-SIMD
 * build when it exists and this V8 accepts it (Node 20 only with --experimental-wasm-relaxed-simd, which
 * can be set at run time; newer V8s have it on), else the plain SIMD128 build. MOECODE_CPU_WASM forces a file.
 */
export function kernelModule(): { module: WebAssembly.Module; relaxed: boolean } {
  if (compiled) return compiled;
  const relaxedPath = process.env.MOECODE_CPU_WASM ? undefined : findBuilt(WASM_RELAXED_FILE);
  if (relaxedPath && process.env.MOECODE_CPU_RELAXED !== '0') {
    const bytes = readFileSync(relaxedPath);
    if (!WebAssembly.validate(bytes)) v8.setFlagsFromString('--experimental-wasm-relaxed-simd');
    if (WebAssembly.validate(bytes)) return (compiled = { module: new WebAssembly.Module(bytes), relaxed: true });
  }
  return (compiled = { module: new WebAssembly.Module(readFileSync(wasmPath())), relaxed: false });
}

export interface KernelExports {
  __heap_base: WebAssembly.Global;
  quantize_row_q8_0(x: number, y: number, n: number): void;
  quantize_row_q8_1(x: number, y: number, n: number): void;
  quantize_row_q8_K(x: number, y: number, n: number): void;
  convert_row_f16(x: number, y: number, n: number): void;
  convert_row_bf16(x: number, y: number, n: number): void;
  rms_norm(x: number, w: number, y: number, n: number, nrows: number, eps: number): void;
  rope(x: number, cs: number, ntok: number, nHead: number, headDim: number, nRot: number, mode: number, pos0: number): void;
  attention(
    q: number, k: number, v: number, out: number, scratch: number, ntok: number, nHead: number, nHeadKv: number,
    hdK: number, hdV: number, hOff: number, kvOff: number, group: number, pos0: number, scale: number, softcap: number, kvF16: number,
  ): void;
  glu_silu(gate: number, up: number, n: number): void;
  glu_gelu(gate: number, up: number, n: number, table: number): void;
  add_scaled(y: number, x: number, s: number, n: number): void;
  [name: `matmul_${string}`]: (w: number, x: number, y: number, nrows: number, ncols: number, ntok: number, ystride: number) => void;
  [name: `dequantize_row_${string}`]: (src: number, y: number, n: number) => void;
}

export function instantiateKernels(module: WebAssembly.Module, memory: WebAssembly.Memory): KernelExports {
  const instance = new WebAssembly.Instance(module, { env: { memory } });
  return instance.exports as unknown as KernelExports;
}

/** The first address the runtime may use (above the module's data and stack), 64-byte aligned. */
export function heapBase(k: KernelExports): number {
  return Math.ceil((k.__heap_base.value as number) / 64) * 64;
}

/** Bytes of one row of `n` values in an activation format. */
export const activationRowBytes = activationBytes;

/** Converts one row of n f32 values at x into format f at y (f32: a copy the caller skips). */
export function convertRow(k: KernelExports, f: ActivationFormat, x: number, y: number, n: number): void {
  switch (f) {
    case 'q8_0':
      return k.quantize_row_q8_0(x, y, n);
    case 'q8_1':
      return k.quantize_row_q8_1(x, y, n);
    case 'q8_K':
      return k.quantize_row_q8_K(x, y, n);
    case 'f16':
      return k.convert_row_f16(x, y, n);
    case 'bf16':
      return k.convert_row_bf16(x, y, n);
    case 'f32':
      throw new Error('f32 activations need no conversion');
  }
}
