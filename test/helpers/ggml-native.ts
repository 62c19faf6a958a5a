/**
 * llama.cpp's own compiled ggml (the libraries node-llama-cpp ships, i.e. the build the conformance tests
 * compare against) as a bit-exact oracle for format code: dequantisation (to_float), reference quantizers
 * (ggml_quantize_chunk), the CPU backend's activation conversions (from_float) and vec_dot_type.
 *
 * It goes through a small C bridge (ggml-native/ggml-oracle.c), compiled on first use with the system C
 * compiler into the OS temp folder and run once per query with the data on stdin/stdout. When the
 * libraries or a C compiler are missing, `loadGgmlNative` returns the reason instead (tests skip with it).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GgmlType } from '../../daemon/gguf/ggml-types.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(HERE, 'ggml-native', 'ggml-oracle.c');
const BINS = resolve(HERE, '..', '..', 'node_modules', '@node-llama-cpp', 'linux-x64', 'bins', 'linux-x64');

export interface GgmlNative {
  /** The libggml-cpu variant ggml picks on this machine. */
  readonly cpuVariant: string;
  vecDotType(type: GgmlType): GgmlType;
  /** dequantize_row_* (ggml_get_type_traits(type)->to_float) of `n` values. */
  toFloat(type: GgmlType, bytes: Uint8Array, n: number): Float32Array;
  /** ggml_quantize_chunk without an importance matrix (quantize_row_*_ref for the simple formats). */
  quantize(type: GgmlType, src: Float32Array, rows: number, cols: number): Uint8Array;
  /** ggml-cpu's from_float for `type` (the activation conversion before a matmul). */
  fromFloat(type: GgmlType, src: Float32Array): Uint8Array;
  /**
   * ggml_quantize_mat_q8_0_4x8 / _q8_K_4x8 of 4 rows of `k` values: the activation quantizers of the
   * repacked matmuls (Q4_0, IQ4_NL, MXFP4 / Q4_K, Q2_K), with the 4 rows interleaved by 8 values.
   */
  quantizeMat4x8(format: 'q8_0' | 'q8_K', src: Float32Array, k: number): Uint8Array;
}

let cached: GgmlNative | string | undefined;

/** The oracle, or the reason it is unavailable. */
export function loadGgmlNative(): GgmlNative | string {
  cached ??= load();
  return cached;
}

function load(): GgmlNative | string {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `ggml oracle needs linux-x64 (this is ${process.platform}-${process.arch})`;
  if (!existsSync(join(BINS, 'libggml-base.so'))) return `node-llama-cpp's ggml libraries are not installed (${BINS})`;
  const source = readFileSync(SOURCE);
  const hash = createHash('sha256').update(source).digest('hex').slice(0, 12);
  const dir = join(tmpdir(), `moecode-ggml-oracle-${hash}`);
  const exe = join(dir, 'ggml-oracle');
  if (!existsSync(exe)) {
    mkdirSync(dir, { recursive: true });
    const tmp = `${exe}.${process.pid}`;
    const cc = spawnSync(process.env.CC ?? 'cc', ['-O1', '-o', tmp, SOURCE, '-ldl'], { encoding: 'utf8' });
    if (cc.error) return `no C compiler to build the ggml oracle (${cc.error.message})`;
    if (cc.status !== 0) return `building the ggml oracle failed: ${cc.stderr}`;
    renameSync(tmp, exe);
  }
  const run = (args: (string | number)[], input?: Uint8Array): Buffer => {
    const r = spawnSync(exe, [BINS, ...args.map(String)], { input, maxBuffer: 1 << 30 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`ggml-oracle ${args.join(' ')} exited ${r.status}: ${r.stderr.toString()}`);
    return r.stdout;
  };
  const bytesOf = (a: Float32Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const floats = (b: Buffer): Float32Array => new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
  let variant: string;
  try {
    variant = run(['variant']).toString().trim();
  } catch (e) {
    return `the ggml oracle does not run here: ${e instanceof Error ? e.message : String(e)}`;
  }
  return {
    cpuVariant: variant,
    vecDotType: (type) => Number(run(['vec_dot_type', type]).toString().trim()) as GgmlType,
    toFloat: (type, bytes, n) => floats(run(['to_float', type, n], bytes)),
    quantize: (type, src, rows, cols) => u8(run(['quantize', type, rows, cols], bytesOf(src))),
    fromFloat: (type, src) => u8(run(['from_float', type, src.length], bytesOf(src))),
    quantizeMat4x8: (format, src, k) => u8(run(['quantize_mat', format, k], bytesOf(src))),
  };
}
