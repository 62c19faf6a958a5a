/**
 * Micro-benchmark of the CPU backend's WebAssembly kernels (dist/moecode-cpu.wasm and, when built,
 * dist/moecode-cpu-relaxed.wasm; `npm run build` first),
 * single-threaded: GB/s of weights streamed by each matmul for a [rows x cols] matvec (ntok 1), GFLOP/s for
 * token batches, and this machine's read bandwidth (1 thread, and 2 threads at once) as the yardstick.
 * The matvec cycles through enough copies of the weights to overflow the caches, so it streams from DRAM.
 * With the formats of a Q4_K_M model measured (q4_K, q5_K, q6_K, q8_0) next to q4_0, it also estimates
 * the decode time of the Q4_K_M bench model against the same model in Q4_0: the bytes each decoded token
 * reads per format (tools/modelgen's plan of the qwen3moe bench model) over each format's matvec GB/s.
 *   node --import tsx tools/bench/bench-cpu-kernels.ts [--rows 4096] [--cols 4096] [--tokens 1,64,512]
 *        [--formats q4_0,q8_0,q4_1,q5_0,q5_1,iq4_nl,mxfp4,q4_K,q5_K,q6_K,f16,bf16,f32] [--seconds 1] [--wasm dist/moecode-cpu.wasm,...] [--cached]
 *        [--attention 16/4/128] [--prompt 512]
 * Figures are indicative when other processes share the cores.
 */
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { formatOf } from '../../daemon/formats/table.js';
import { CPU_VARIANTS, CpuKernels } from '../../test/kernels/cpu-wasm.js';
import { planTensors } from '../modelgen/generate-model.js';
import { resolveSpec, type WeightTypeName } from '../modelgen/model-spec.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '4096' },
    cols: { type: 'string', default: '4096' },
    tokens: { type: 'string', default: '1,64,512' },
    formats: { type: 'string', default: 'q4_0,q8_0,q4_K,q5_K,q6_K' },
    seconds: { type: 'string', default: '1' },
    /** Modules to measure, comma-separated (default: every built variant). */
    wasm: { type: 'string' },
    /** Attention shape: n_head/n_head_kv/head_dim for a prefill of `prompt` tokens and one decode step after it. */
    attention: { type: 'string', default: '16/4/128' },
    prompt: { type: 'string', default: '512' },
    /** Reuse one copy of the weights (measures the kernels from cache when the matrix fits). */
    cached: { type: 'boolean', default: false },
  },
});
const rows = Number(values.rows);
const cols = Number(values.cols);
const tokenCounts = values.tokens!.split(',').map(Number);
const formats = values.formats!.split(',');
const seconds = Number(values.seconds);
const wasmPaths = values.wasm ? values.wasm.split(',') : CPU_VARIANTS.map((v) => v.path).filter((p) => existsSync(p));

/** Weight formats: bytes per row, the activation converter and how to fill valid random blocks. */
interface BenchFormat {
  rowBytes(cols: number): number;
  activation: { fn: string; rowBytes(cols: number): number };
  /** Random weights: bytes, with scales written as sane f16 values. */
  fill(bytes: Uint8Array): void;
  /** Block bytes and the offsets of its f16 scales (the two-thread matvec's workers fill blocks themselves). */
  block?: { bytes: number; f16At: number[] };
}

const f16Scale = 0x2148; // ~0.0103
/**
 * Fills with pseudo-random bytes, different on every page and in every copy: identical pages (all ones,
 * copies of one matrix) can be merged by the host and then come from cache, inflating GB/s.
 */
function fillRandom(b: Uint8Array): void {
  const u32 = new Uint32Array(b.buffer, b.byteOffset, b.byteLength >> 2);
  for (let i = 0; i < u32.length; i++) u32[i] = nextRandom();
}
function nextRandom(): number {
  return (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
}
let seed = 12345;
const q8_0Act = { fn: 'quantize_row_q8_0', rowBytes: (c: number) => (c / 32) * 34 };
const q8_1Act = { fn: 'quantize_row_q8_1', rowBytes: (c: number) => (c / 32) * 36 };
const f16Act = { fn: 'convert_row_f16', rowBytes: (c: number) => c * 2 };
const q8_KAct = { fn: 'quantize_row_q8_K', rowBytes: (c: number) => (c / 256) * 292 };
/** Random bytes with an f16 scale at each of `f16At` in every block of `blockBytes`. */
function fillK(blockBytes: number, f16At: number[]) {
  return (b: Uint8Array) => {
    fillRandom(b);
    for (let i = 0; i + blockBytes <= b.length; i += blockBytes) {
      for (const o of f16At) {
        b[i + o] = f16Scale & 0xff;
        b[i + o + 1] = f16Scale >> 8;
      }
    }
  };
}
/** A block format of `values` values in `bytes` bytes with f16 scales at `f16At`. */
function blockFormat(values: number, bytes: number, f16At: number[], activation: BenchFormat['activation']): BenchFormat {
  return { rowBytes: (c) => (c / values) * bytes, activation, fill: fillK(bytes, f16At), block: { bytes, f16At } };
}
const FORMATS: Record<string, BenchFormat> = {
  q4_0: blockFormat(32, 18, [0], q8_0Act),
  q8_0: blockFormat(32, 34, [0], q8_0Act),
  q4_1: blockFormat(32, 20, [0, 2], q8_1Act),
  q5_0: blockFormat(32, 22, [0], q8_0Act),
  q5_1: blockFormat(32, 24, [0, 2], q8_1Act),
  iq4_nl: blockFormat(32, 18, [0], q8_0Act),
  mxfp4: blockFormat(32, 17, [], q8_0Act), // E8M0 exponent bytes stay random (finite: 0..254 mostly)
  q2_K: blockFormat(256, 84, [80, 82], q8_KAct),
  q3_K: blockFormat(256, 110, [108], q8_KAct),
  q4_K: blockFormat(256, 144, [0, 2], q8_KAct),
  q5_K: blockFormat(256, 176, [0, 2], q8_KAct),
  q6_K: blockFormat(256, 210, [208], q8_KAct),
  iq4_xs: blockFormat(256, 136, [0], q8_KAct),
  f16: { rowBytes: (c) => c * 2, activation: f16Act, fill: fillK(2, [0]) },
  bf16: { rowBytes: (c) => c * 2, activation: { fn: 'convert_row_bf16', rowBytes: (c: number) => c * 2 }, fill: fillK(2, []) },
  f32: {
    rowBytes: (c) => c * 4,
    activation: { fn: '', rowBytes: (c: number) => c * 4 },
    fill: (b) => {
      const f = new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
      for (let i = 0; i < f.length; i++) f[i] = (nextRandom() / 2 ** 32 - 0.5) * 0.02;
    },
  },
};

/**
 * Runs fn in batches for about `seconds`; returns the best time of one call in ms, by the wall clock and by
 * this process's CPU time (less disturbed when other processes take turns on the cores).
 */
function timeIt(fn: () => void): { wall: number; cpu: number } {
  fn(); // warm-up (tier-up, page faults)
  const t0 = performance.now();
  fn();
  const once = Math.max(performance.now() - t0, 1e-3);
  const perBatch = Math.max(1, Math.ceil(50 / once));
  let wall = Infinity;
  let cpu = Infinity;
  const until = performance.now() + seconds * 1000;
  for (let b = 0; b < 3 || performance.now() < until; b++) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    for (let i = 0; i < perBatch; i++) fn();
    const w = (performance.now() - w0) / perBatch;
    const c = process.cpuUsage(c0);
    wall = Math.min(wall, w);
    cpu = Math.min(cpu, (c.user + c.system) / 1000 / perBatch);
  }
  return { wall, cpu };
}

const BW_BYTES = 256 << 20;

async function bandwidth(k: CpuKernels, wasmPath: string): Promise<{ one: number; two: number }> {
  const x = k.alloc(BW_BYTES);
  fillRandom(k.bytes(x, BW_BYTES));
  const out = k.alloc(16);
  const sum = k.fn('stream_sum_f32');
  const one = BW_BYTES / timeIt(() => sum(x, BW_BYTES / 4, out)).wall / 1e6;
  // two threads, each streaming its own buffer in its own instance
  const src = `
    const { parentPort, workerData } = require('node:worker_threads');
    const bytes = require('node:fs').readFileSync(workerData.path);
    if (!WebAssembly.validate(bytes)) require('node:v8').setFlagsFromString('--experimental-wasm-relaxed-simd');
    const memory = new WebAssembly.Memory({ initial: (workerData.n + (4 << 20)) / 65536, maximum: 65536, shared: true });
    const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    const base = Math.ceil(exports.__heap_base.value / 64) * 64;
    const u32 = new Uint32Array(memory.buffer, base, workerData.n / 4);
    let s = 777 + workerData.id;
    for (let i = 0; i < u32.length; i++) u32[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) & 0x3fffffff; // finite floats
    parentPort.on('message', (reps) => {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) exports.stream_sum_f32(base, workerData.n / 4, base - 16);
      parentPort.postMessage(performance.now() - t0);
    });
    parentPort.postMessage('ready');`;
  const workers = [0, 1].map((id) => new Worker(src, { eval: true, workerData: { path: wasmPath, n: BW_BYTES, id } }));
  await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
  const reps = 8;
  const times = await Promise.all(workers.map((w) => new Promise<number>((r) => (w.once('message', r), w.postMessage(reps)))));
  await Promise.all(workers.map((w) => w.terminate()));
  const two = (2 * reps * BW_BYTES) / Math.max(...times) / 1e6;
  k.reset();
  return { one, two };
}

/**
 * The decode case of the tensor-parallel runtime: two workers, each with its own instance and memory
 * holding half of the rows (and enough copies of them to stream from DRAM), run their matvecs at once;
 * GB/s of weights streamed by the two together.
 */
async function twoThreadMatvec(wasmPath: string, fmt: string): Promise<number> {
  const f = FORMATS[fmt]!;
  const half = Math.ceil(rows / 2);
  const wBytes = half * f.rowBytes(cols);
  const copies = Math.max(1, Math.ceil((96 << 20) / wBytes));
  const src = `
    const { parentPort, workerData: d } = require('node:worker_threads');
    const bytes = require('node:fs').readFileSync(d.path);
    if (!WebAssembly.validate(bytes)) require('node:v8').setFlagsFromString('--experimental-wasm-relaxed-simd');
    const need = d.wBytes * d.copies + d.cols * 8 + d.xBytes + d.rows * 4 + (8 << 20);
    const memory = new WebAssembly.Memory({ initial: Math.ceil(need / 65536), maximum: 65536, shared: true });
    const { exports: e } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
    const base = Math.ceil(e.__heap_base.value / 64) * 64;
    const w = new Uint8Array(memory.buffer, base, d.wBytes * d.copies);
    const u32 = new Uint32Array(memory.buffer, base, Math.floor(w.length / 4));
    let s = 12345 + d.id;
    for (let i = 0; i < u32.length; i++) u32[i] = s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    for (let i = 0; i + d.blockBytes <= w.length; i += d.blockBytes) for (const o of d.f16At) { w[i + o] = 0x48; w[i + o + 1] = 0x21; }
    const xf = base + w.length, xq = xf + d.cols * 4, y = xq + d.xBytes;
    new Float32Array(memory.buffer, xf, d.cols).forEach((_, i, a) => (a[i] = Math.cos(i)));
    e[d.quantize](xf, xq, d.cols);
    const mm = e['matmul_' + d.fmt];
    parentPort.on('message', (reps) => {
      const t0 = performance.now();
      for (let i = 0; i < reps; i++) mm(base + (i % d.copies) * d.wBytes, xq, y, d.half, d.cols, 1, d.half);
      parentPort.postMessage(performance.now() - t0);
    });
    parentPort.postMessage('ready');`;
  const workerData = { path: wasmPath, fmt, rows, cols, half, wBytes, copies, blockBytes: f.block!.bytes, f16At: f.block!.f16At, quantize: f.activation.fn, xBytes: f.activation.rowBytes(cols) };
  const workers = [0, 1].map((id) => new Worker(src, { eval: true, workerData: { ...workerData, id } }));
  try {
    await Promise.all(workers.map((w) => new Promise((r) => w.once('message', r))));
    let best = Infinity;
    const until = performance.now() + seconds * 1000;
    for (let b = 0; b < 3 || performance.now() < until; b++) {
      const times = await Promise.all(workers.map((w) => new Promise<number>((r) => (w.once('message', r), w.postMessage(20)))));
      best = Math.min(best, Math.max(...times) / 20);
    }
    return (2 * wBytes) / best / 1e6;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Matvec GB/s per format: single thread (wall, cpu time) and two threads (wall). */
interface Streamed {
  one: number;
  oneCpu: number;
  two?: number;
}

/**
 * Bytes of weights one decoded token reads, per CPU format (the cpu export suffix), for the qwen3moe bench
 * model quantised with `weightType` (or the Q4_K_M recipe): every matrix but the untied embedding table
 * (one row per token), experts at n_expert_used of n_expert.
 */
function decodeBytesPerFormat(weightType: WeightTypeName, recipe?: 'Q4_K_M'): Map<string, number> {
  const spec = resolveSpec({ arch: 'qwen3moe', preset: 'bench', weightType, recipe });
  const out = new Map<string, number>();
  for (const p of planTensors(spec)) {
    if (p.dims.length < 2 || (p.name === 'token_embd.weight' && !spec.tied_output)) continue;
    const f = formatOf(p.type)!;
    const n = p.dims.reduce((a, b) => a * b, 1) * (p.dims.length === 3 ? spec.n_expert_used / spec.n_expert : 1);
    const key = f.cpu ?? f.name;
    out.set(key, (out.get(key) ?? 0) + (n / f.blockSize) * f.typeSize);
  }
  return out;
}

/** The Q4_K_M bench model's estimated decode time over the Q4_0 one's, from the measured matvec GB/s. */
function q4KMEstimate(streamed: Map<string, Streamed>): void {
  const km = decodeBytesPerFormat('Q4_K', 'Q4_K_M');
  const q40 = decodeBytesPerFormat('Q4_0');
  const time = (bytes: Map<string, number>, pick: (s: Streamed) => number | undefined): number | undefined => {
    let ms = 0;
    for (const [fmt, b] of bytes) {
      if (fmt === 'f32') continue; // the routers: < 0.1% of the bytes
      const gbs = streamed.get(fmt) && pick(streamed.get(fmt)!);
      if (!gbs) return undefined;
      ms += b / gbs / 1e6;
    }
    return ms;
  };
  const mb = (m: Map<string, number>) => [...m].filter(([f]) => f !== 'f32').map(([f, b]) => `${f} ${(b / 1e6).toFixed(0)}`).join(', ');
  console.log(`Q4_K_M vs Q4_0 decode, qwen3moe bench model: MB of weights per token: Q4_K_M ${mb(km)}; Q4_0 ${mb(q40)}`);
  for (const [what, pick] of [
    ['1 thread, wall', (s: Streamed) => s.one],
    ['1 thread, cpu time', (s: Streamed) => s.oneCpu],
    ['2 threads, wall', (s: Streamed) => s.two],
  ] as const) {
    const a = time(km, pick);
    const b = time(q40, pick);
    if (a === undefined || b === undefined) {
      console.log(`  ${what}: not every format of the mix was measured (--formats ${[...new Set([...km.keys(), ...q40.keys()])].filter((f) => f !== 'f32').join(',')})`);
      continue;
    }
    console.log(`  ${what}: ${a.toFixed(1)} ms vs ${b.toFixed(1)} ms per token (weights only): Q4_K_M takes ${(a / b).toFixed(3)}x the Q4_0 time`);
  }
}

async function main() {
  for (const wasmPath of wasmPaths) {
    const k = await CpuKernels.load(4096, wasmPath);
    await benchMatmuls(k, wasmPath);
    benchAttention(await CpuKernels.load(4096, wasmPath));
  }
}

async function benchMatmuls(k: CpuKernels, wasmPath: string) {
  console.log(`\nCPU kernels ${wasmPath}, single thread unless stated; matmul [${rows} x ${cols}]`);
  const bw = await bandwidth(k, wasmPath);
  console.log(`read bandwidth (stream_sum_f32 over ${BW_BYTES >> 20} MiB): 1 thread ${bw.one.toFixed(1)} GB/s, 2 threads ${bw.two.toFixed(1)} GB/s`);
  console.log('format  ntok   ms/call (wall, cpu)   weight GB/s (wall, cpu)   GFLOP/s (wall, cpu)');
  const streamed = new Map<string, Streamed>();
  for (const name of formats) {
    const f = FORMATS[name];
    if (!f) throw new Error(`unknown format ${name} (${Object.keys(FORMATS).join(', ')})`);
    const mm = k.fn(`matmul_${name}`);
    const wBytes = rows * f.rowBytes(cols);
    const copies = values.cached ? 1 : Math.max(1, Math.ceil((160 << 20) / wBytes));
    const ws: number[] = [];
    for (let c = 0; c < copies; c++) {
      const at = k.alloc(wBytes);
      f.fill(k.bytes(at, wBytes));
      ws.push(at);
    }
    const maxT = Math.max(...tokenCounts);
    const xf = k.alloc(maxT * cols * 4);
    k.f32(xf, maxT * cols).forEach((_, i, a) => (a[i] = Math.cos(i * 0.37)));
    const xq = f.activation.fn ? k.alloc(maxT * f.activation.rowBytes(cols)) : xf;
    if (f.activation.fn) for (let t = 0; t < maxT; t++) k.fn(f.activation.fn)(xf + t * cols * 4, xq + t * f.activation.rowBytes(cols), cols);
    const y = k.alloc(maxT * rows * 4);
    for (const T of tokenCounts) {
      let i = 0;
      const t = timeIt(() => mm(ws[i++ % ws.length]!, xq, y, rows, cols, T, rows));
      const both = (f: (ms: number) => number, digits: number) => `${f(t.wall).toFixed(digits)}, ${f(t.cpu).toFixed(digits)}`;
      console.log(
        `${name.padEnd(6)} ${String(T).padStart(5)} ${both((ms) => ms, 3).padStart(21)} ${both((ms) => wBytes / ms / 1e6, 2).padStart(25)} ${both((ms) => (2 * rows * cols * T) / ms / 1e6, 1).padStart(21)}`,
      );
      if (T === 1) {
        const two = f.block ? await twoThreadMatvec(wasmPath, name) : undefined;
        streamed.set(name, { one: wBytes / t.wall / 1e6, oneCpu: wBytes / t.cpu / 1e6, two });
        if (two !== undefined) console.log(`${name.padEnd(6)}     1   2 threads, rows split: ${two.toFixed(2)} GB/s (wall)`);
      }
    }
    k.reset();
  }
  if (streamed.has('q4_0') && [...streamed.keys()].some((f) => f.endsWith('_K'))) q4KMEstimate(streamed);
}

/** Causal attention of one layer (all heads on one thread): a prompt of P tokens, then one token at P. */
function benchAttention(k: CpuKernels): void {
  const [nh, nkv, hd] = values.attention!.split('/').map(Number) as [number, number, number];
  const P = Number(values.prompt);
  const att = k.fn('attention');
  console.log(`attention ${nh}/${nkv} heads of ${hd}, prompt ${P}: ms/call (wall, cpu), GFLOP/s (wall, cpu)`);
  for (const f16 of [false, true]) {
    k.reset();
    const eb = f16 ? 2 : 4;
    const q = k.alloc(P * nh * hd * 4);
    k.f32(q, P * nh * hd).forEach((_, i, a) => (a[i] = Math.sin(i * 0.1)));
    const kc = k.alloc((P + 1) * nkv * hd * eb);
    const vc = k.alloc((P + 1) * nkv * hd * eb);
    k.bytes(kc, (P + 1) * nkv * hd * eb).fill(0x31);
    k.bytes(vc, (P + 1) * nkv * hd * eb).fill(0x32);
    const out = k.alloc(P * nh * hd * 4);
    const scratch = k.alloc(4 * (P + 1) * 4);
    for (const [ntok, pos0] of [
      [P, 0],
      [1, P],
    ] as const) {
      const t = timeIt(() => att(q, kc, vc, out, scratch, ntok, nh, nkv, hd, hd, 0, 0, nh / nkv, pos0, 1 / Math.sqrt(hd), 0, f16 ? 1 : 0));
      let positions = 0;
      for (let i = 0; i < ntok; i++) positions += pos0 + i + 1;
      const flop = 4 * nh * hd * positions;
      console.log(
        `  ${f16 ? 'f16' : 'f32'} KV, ${ntok === 1 ? `decode at ${pos0}` : `prefill ${ntok}`}: ${t.wall.toFixed(2)}, ${t.cpu.toFixed(2)} ms; ${(flop / t.wall / 1e6).toFixed(1)}, ${(flop / t.cpu / 1e6).toFixed(1)} GFLOP/s`,
      );
    }
  }
  k.reset();
}

void main();
