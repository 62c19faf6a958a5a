/**
 * Test-only loader of dist/moecode-cpu.wasm (the CPU backend's kernels, daemon/cpu/kernels/): one
 * instance over its own shared WebAssembly.Memory, a bump allocator above __heap_base, and typed views.
 * The runtime (daemon/cpu/) has its own loader; this one exists so the kernel tests and the kernel
 * benchmark need nothing from it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe } from 'node:test';
import { setFlagsFromString } from 'node:v8';

export const CPU_WASM_PATH = join(__dirname, '..', '..', 'dist', 'moecode-cpu.wasm');
/** The relaxed-SIMD build (only where a clang >= 16 built it). */
export const CPU_WASM_RELAXED_PATH = join(__dirname, '..', '..', 'dist', 'moecode-cpu-relaxed.wasm');

/** The engine cannot compile the module (relaxed SIMD on a V8 without it). */
export class WasmUnsupportedError extends Error {}

/**
 * The module's bytes, validated; V8 11.3 (Node 20) compiles relaxed SIMD only behind
 * --experimental-wasm-relaxed-simd, which can be switched on at run time before compiling.
 */
export function loadValidBytes(path: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(readFileSync(path));
  if (WebAssembly.validate(bytes)) return bytes;
  setFlagsFromString('--experimental-wasm-relaxed-simd');
  if (WebAssembly.validate(bytes)) return bytes;
  throw new WasmUnsupportedError(`${path} does not validate on this engine (node ${process.version})`);
}

/** Every export of the module is a function of numbers (i32 addresses and counts, f32 scalars). */
export type KernelFn = (...args: number[]) => void;

export class CpuKernels {
  private top: number;
  readonly heapBase: number;

  private constructor(
    readonly memory: WebAssembly.Memory,
    readonly fns: Record<string, KernelFn>,
    heapBase: number,
  ) {
    this.heapBase = heapBase;
    this.top = heapBase;
  }

  /** Instantiates the built module over a fresh shared memory of `pages` 64 KiB pages. */
  static async load(pages = 1024, path = CPU_WASM_PATH): Promise<CpuKernels> {
    if (!existsSync(path)) throw new Error(`${path} is missing: run \`npm run build\` (it compiles daemon/cpu/kernels/*.c; npm test builds first)`);
    const memory = new WebAssembly.Memory({ initial: pages, maximum: 65536, shared: true });
    const instance = await WebAssembly.instantiate(new WebAssembly.Module(loadValidBytes(path)), { env: { memory } });
    const fns: Record<string, KernelFn> = {};
    for (const [name, v] of Object.entries(instance.exports)) if (typeof v === 'function') fns[name] = v as KernelFn;
    const heapBase = (instance.exports.__heap_base as WebAssembly.Global).value as number;
    return new CpuKernels(memory, fns, heapBase);
  }

  fn(name: string): KernelFn {
    const f = this.fns[name];
    if (!f) throw new Error(`dist/moecode-cpu.wasm has no export ${name}`);
    return f;
  }

  /** Reserves `bytes` bytes (aligned to `align`) and returns their address; grows the memory when needed. */
  alloc(bytes: number, align = 64): number {
    const at = Math.ceil(this.top / align) * align;
    const end = at + bytes;
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / 65536));
    this.top = end;
    return at;
  }

  /** Frees everything allocated since __heap_base. */
  reset(): void {
    this.top = this.heapBase;
  }

  /** Copies bytes into fresh memory; returns the address. */
  put(data: ArrayBufferView, align = 64): number {
    const at = this.alloc(data.byteLength, align);
    this.bytes(at, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return at;
  }

  bytes(at: number, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, at, n);
  }

  f32(at: number, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, at, n);
  }

  u16(at: number, n: number): Uint16Array {
    return new Uint16Array(this.memory.buffer, at, n);
  }

  /** A copy of n f32 values at `at` (safe to keep after the memory grows). */
  readF32(at: number, n: number): Float32Array {
    return Float32Array.from(this.f32(at, n));
  }

  readBytes(at: number, n: number): Uint8Array {
    return Uint8Array.from(this.bytes(at, n));
  }
}

/** The builds of the module: the SIMD128 baseline (always built) and the relaxed-SIMD one (clang >= 16). */
export interface CpuVariant {
  name: string;
  path: string;
  /** The baseline must exist (its absence fails the tests); the relaxed build may be absent (skips). */
  required: boolean;
}

export const CPU_VARIANTS: readonly CpuVariant[] = [
  { name: 'simd128', path: CPU_WASM_PATH, required: true },
  { name: 'relaxed-simd', path: CPU_WASM_RELAXED_PATH, required: false },
];

/** Why a variant's tests are skipped, or undefined when they run. */
export function variantSkipReason(v: CpuVariant): string | undefined {
  if (v.required) return undefined;
  if (!existsSync(v.path)) return `${v.path} is not built (it needs clang >= 16: apt-get install clang-19 lld-19, then npm run build)`;
  try {
    loadValidBytes(v.path);
  } catch (e) {
    if (e instanceof WasmUnsupportedError) return e.message;
    throw e;
  }
  return undefined;
}

/**
 * One describe() per built variant of the module, each loading its own instance before its tests and
 * handing it to `use` (tests keep it in a module variable); a variant that is not built is skipped with
 * the reason printed.
 */
export function describeCpuVariants(title: string, use: (k: CpuKernels) => void, body: () => void): void {
  for (const v of CPU_VARIANTS) {
    describe(`${title} [${v.name}]`, { skip: variantSkipReason(v) }, () => {
      before(async () => use(await CpuKernels.load(1024, v.path)));
      body();
    });
  }
}
