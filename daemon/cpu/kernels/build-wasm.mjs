// Builds the CPU backend's kernels (daemon/cpu/kernels/*.c) into dist/moecode-cpu.wasm with clang and
// wasm-ld (Debian: `apt-get install clang lld`). Called by esbuild.mjs on every `npm run build`; skips the
// compile when the output is newer than every source. `node daemon/cpu/kernels/build-wasm.mjs [--force]`.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, statSync } from 'node:fs';
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

const COMPILE_FLAGS = ['--target=wasm32', '-O3', '-msimd128', '-matomics', '-mbulk-memory', '-nostdlib', '-ffreestanding', '-fno-math-errno', '-Wall', '-Wextra', '-Werror', '-Wno-unused-parameter'];

/**
 * The variants built: the runtime picks the first that WebAssembly.validate accepts. Only the SIMD128
 * baseline today. A relaxed-SIMD variant was measured out: clang 14 has no relaxed dot-product builtins
 * and emits pre-standard relaxed opcodes (f32x4.fma as 0xfd 0xaf), so it would need clang >= 16; Node 20
 * (V8 11.3) needs --experimental-wasm-relaxed-simd (v8.setFlagsFromString works at run time, also from
 * a worker), and its i32x4.relaxed_dot_i8x16_i7x16_add_s returns twice the dot product and drops the
 * accumulator. The baseline already streams Q4_0/Q8_0 weights faster than one thread's share of DRAM.
 */
export const WASM_VARIANTS = [{ out: 'moecode-cpu.wasm', flags: [] }];

export class KernelToolchainError extends Error {}

function findTool(candidates, what) {
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (r.status === 0) return c;
  }
  throw new KernelToolchainError(
    `${what} not found (tried ${candidates.join(', ')}): the CPU kernels need clang and lld with the WebAssembly target. ` +
      'On Debian/Ubuntu: `apt-get install clang lld`; elsewhere set MOECODE_CLANG to a clang that targets wasm32.',
  );
}

function newestMtime(files) {
  return Math.max(...files.map((f) => statSync(f).mtimeMs));
}

/** Compiles and links every variant that is older than its sources. Returns the paths written. */
export function buildKernels({ force = false, outDir = join(root, 'dist'), log = console.log } = {}) {
  const sources = readdirSync(here)
    .filter((f) => f.endsWith('.c'))
    .sort()
    .map((f) => join(here, f));
  const inputs = [...sources, ...readdirSync(here).filter((f) => f.endsWith('.h')).map((f) => join(here, f)), fileURLToPath(import.meta.url)];
  const newest = newestMtime(inputs);
  mkdirSync(outDir, { recursive: true });
  const stale = WASM_VARIANTS.filter((v) => {
    const out = join(outDir, v.out);
    try {
      return force || statSync(out).mtimeMs < newest;
    } catch {
      return true;
    }
  });
  if (stale.length === 0) return [];
  const clang = findTool([process.env.MOECODE_CLANG, 'clang', 'clang-19', 'clang-18', 'clang-17', 'clang-16', 'clang-15', 'clang-14'].filter(Boolean), 'clang');
  const ldCheck = spawnSync(clang, ['--target=wasm32', '-print-prog-name=wasm-ld'], { encoding: 'utf8' });
  const ld = ldCheck.status === 0 ? ldCheck.stdout.trim() : 'wasm-ld';
  findTool([ld, 'wasm-ld', 'wasm-ld-19', 'wasm-ld-18', 'wasm-ld-17', 'wasm-ld-16', 'wasm-ld-15', 'wasm-ld-14'], 'wasm-ld (lld)');
  const written = [];
  for (const v of stale) {
    const out = join(outDir, v.out);
    const args = [...COMPILE_FLAGS, ...v.flags, ...LINK_FLAGS.map((f) => `-Wl,${f}`), '-o', out, ...sources];
    const r = spawnSync(clang, args, { encoding: 'utf8' });
    if (r.status !== 0) {
      throw new KernelToolchainError(`building ${v.out} failed (${clang} ${args.join(' ')}):\n${r.stderr || r.error?.message}`);
    }
    log(`built ${out}`);
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
