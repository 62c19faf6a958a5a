// Builds the CPU backend's kernels (daemon/cpu/kernels/*.c) into dist/moecode-cpu.wasm (SIMD128) and,
// when a clang >= 16 is installed, dist/moecode-cpu-relaxed.wasm (relaxed SIMD), with clang and wasm-ld
// (Debian: `apt-get install clang lld`, plus `clang-19 lld-19` for the relaxed build). Called by esbuild.mjs
// on every `npm run build`; skips a variant that is newer than every source.
// `node daemon/cpu/kernels/build-wasm.mjs [--force]`.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');

/** The module's memory: imported, shared, at most 4 GiB; the stack (1 MiB, first, so an overflow traps). */
const LINK_FLAGS = [
  '--no-entry',
  '--import-memory',
  '--shared-memory',
  '--max-memory=4294967296',
  '--stack-first',
  '-z',
  'stack-size=1048576',
  '--export=__heap_base',
];

const COMPILE_FLAGS = [
  '--target=wasm32',
  '-O3',
  '-msimd128',
  '-matomics',
  '-mbulk-memory',
  '-nostdlib',
  '-ffreestanding',
  '-fno-math-errno',
  '-ffp-contract=off', // no fused multiply-adds: the ops that match ggml bit for bit keep their roundings
  '-Wall',
  '-Wextra',
  '-Werror',
  '-Wno-unused-parameter',
];

/**
 * The variants built; the runtime takes the first of them that exists and that WebAssembly.validate
 * accepts (V8 11.3, Node 20, compiles relaxed SIMD only after v8.setFlagsFromString(
 * '--experimental-wasm-relaxed-simd'), which works at run time, in a worker too; VS Code's Electron has it
 * on). The relaxed build uses i16x8.relaxed_dot_i8x16_i7x16_s for the formats whose weights are (or are
 * offset to) small unsigned integers (Q4_0, Q4_1, Q5_0, Q5_1, MXFP4): ~1.4x the baseline's Q4_0 matmul here;
 * and i8x16.relaxed_swizzle for the 16-entry value tables (IQ4_NL, MXFP4; indices 0..15, so exact). It needs a clang >= 16 (Debian 12:
 * `apt-get install clang-19 lld-19`; clang 14 has no relaxed dot builtins and writes pre-standard relaxed
 * opcodes); without one only the baseline is built. Not used: i32x4.relaxed_dot_i8x16_i7x16_add_s (V8 11.3
 * returns twice the dot product and drops the accumulator) and f32x4.relaxed_madd (slower here: the
 * float loops are latency-bound).
 */
export const WASM_VARIANTS = [
  { out: 'moecode-cpu.wasm', flags: [], required: true, probe: 'v128_t f(v128_t a, v128_t b) { return wasm_i32x4_dot_i16x8(a, b); }' },
  {
    out: 'moecode-cpu-relaxed.wasm',
    flags: ['-mrelaxed-simd', '-DMOECODE_RELAXED_SIMD=1'],
    required: false,
    probe: 'v128_t f(v128_t a, v128_t b) { return wasm_i16x8_relaxed_dot_i8x16_i7x16(a, b); }',
  },
];

const CLANGS = ['clang', 'clang-19', 'clang-18', 'clang-17', 'clang-16', 'clang-15', 'clang-14'];

export class KernelToolchainError extends Error {}

function runs(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r : undefined;
}

/** The first clang (MOECODE_CLANG first) that compiles `probe` for a variant and has a wasm-ld beside it. */
function findClang(variant) {
  const candidates = [process.env.MOECODE_CLANG, ...CLANGS].filter(Boolean);
  const dir = mkdtempSync(join(tmpdir(), 'moecode-probe-'));
  try {
    const src = join(dir, 'probe.c');
    writeFileSync(src, `#include <wasm_simd128.h>\n${variant.probe}\n`);
    for (const clang of candidates) {
      if (!runs(clang, ['--version'])) continue;
      if (!runs(clang, [...COMPILE_FLAGS, ...variant.flags, '-c', src, '-o', join(dir, 'probe.o')])) continue;
      const ld = runs(clang, ['--target=wasm32', '-print-prog-name=wasm-ld'])?.stdout.trim() || 'wasm-ld';
      if (runs(ld, ['--version'])) return clang;
    }
    return undefined;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Compiles and links every variant that is older than its sources. Returns the paths written. */
export function buildKernels({ force = false, outDir = join(root, 'dist'), log = console.log } = {}) {
  const names = readdirSync(here).sort();
  const sources = names.filter((f) => f.endsWith('.c')).map((f) => join(here, f));
  const inputs = [...sources, ...names.filter((f) => f.endsWith('.h')).map((f) => join(here, f)), fileURLToPath(import.meta.url)];
  const newest = Math.max(...inputs.map((f) => statSync(f).mtimeMs));
  mkdirSync(outDir, { recursive: true });
  const written = [];
  for (const v of WASM_VARIANTS) {
    const out = join(outDir, v.out);
    if (!force && existsSync(out) && statSync(out).mtimeMs >= newest) continue;
    const clang = findClang(v);
    if (!clang) {
      if (v.required) {
        throw new KernelToolchainError(
          `no clang with the WebAssembly target and wasm-ld found (tried ${[process.env.MOECODE_CLANG, ...CLANGS].filter(Boolean).join(', ')}): ` +
            'the CPU kernels need clang and lld. On Debian/Ubuntu: `apt-get install clang lld`; elsewhere set MOECODE_CLANG to a clang that targets wasm32.',
        );
      }
      rmSync(out, { force: true }); // never leave a variant built from older sources
      log(`skipped ${v.out}: needs clang >= 16 with lld (Debian 12: apt-get install clang-19 lld-19)`);
      continue;
    }
    const args = [...COMPILE_FLAGS, ...v.flags, ...LINK_FLAGS.map((f) => `-Wl,${f}`), '-o', out, ...sources];
    const r = spawnSync(clang, args, { encoding: 'utf8' });
    if (r.status !== 0) throw new KernelToolchainError(`building ${v.out} failed (${clang} ${args.join(' ')}):\n${r.stderr || r.error?.message}`);
    log(`built ${out} (${clang})`);
    written.push(out);
  }
  return written;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    buildKernels({ force: process.argv.includes('--force') });
  } catch (e) {
    console.error(e instanceof KernelToolchainError ? e.message : e);
    process.exit(1);
  }
}
