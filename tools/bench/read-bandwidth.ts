/**
 * This machine's read bandwidths for the Grok-1 bench: memory, as the CPU backend's ranks read weights
 * (`threads` workers at once, each summing its own 256 MiB buffer with the kernels' stream_sum_f32 in its
 * own WebAssembly memory; best of a few rounds), and disk (dd with O_DIRECT over a file, so the page cache
 * neither helps nor fills).
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { wasmPath } from '../../daemon/cpu/wasm-kernels.js';

const BUFFER_BYTES = 256 << 20;

const WORKER_SOURCE = `
  const { parentPort, workerData } = require('node:worker_threads');
  const bytes = require('node:fs').readFileSync(workerData.path);
  const memory = new WebAssembly.Memory({ initial: (workerData.n + (4 << 20)) / 65536, maximum: 65536, shared: true });
  const { exports } = new WebAssembly.Instance(new WebAssembly.Module(bytes), { env: { memory } });
  const base = Math.ceil(exports.__heap_base.value / 64) * 64;
  const u32 = new Uint32Array(memory.buffer, base, workerData.n / 4);
  let s = 777 + workerData.id; // distinct pages (identical ones could be merged by the host and come from cache)
  for (let i = 0; i < u32.length; i++) u32[i] = (s = (Math.imul(s, 1103515245) + 12345) >>> 0) & 0x3fffffff;
  parentPort.on('message', (reps) => {
    const t0 = performance.now();
    for (let i = 0; i < reps; i++) exports.stream_sum_f32(base, workerData.n / 4, base - 16);
    parentPort.postMessage(performance.now() - t0);
  });
  parentPort.postMessage('ready');`;

/** Bytes per second that `threads` threads read together (best of `rounds` rounds of 4 passes each). */
export async function memoryReadBandwidth(threads: number, rounds = 5): Promise<number> {
  const path = wasmPath();
  const workers = Array.from({ length: threads }, (_, id) => new Worker(WORKER_SOURCE, { eval: true, workerData: { path, n: BUFFER_BYTES, id } }));
  try {
    await Promise.all(workers.map((w) => new Promise((r, f) => (w.once('message', r), w.once('error', f)))));
    const reps = 4;
    let best = 0;
    for (let round = 0; round < rounds; round++) {
      const times = await Promise.all(workers.map((w) => new Promise<number>((r) => (w.once('message', r), w.postMessage(reps)))));
      best = Math.max(best, (threads * reps * BUFFER_BYTES) / (Math.max(...times) / 1000));
    }
    return best;
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/**
 * Bytes per second of direct (uncached) sequential reads of `bytes` from `path`, starting a quarter into
 * the file; undefined when dd or O_DIRECT is unavailable.
 */
export function diskReadBandwidth(path: string, bytes = 1 << 30): number | undefined {
  const block = 16 << 20;
  const size = statSync(path).size;
  const count = Math.max(1, Math.min(Math.floor(bytes / block), Math.floor(size / block / 2)));
  const skip = Math.floor(size / block / 4);
  try {
    const t0 = performance.now();
    execFileSync('dd', [`if=${path}`, 'of=/dev/null', `bs=${block}`, `count=${count}`, `skip=${skip}`, 'iflag=direct'], { stdio: 'ignore' });
    return (count * block) / ((performance.now() - t0) / 1000);
  } catch {
    return undefined;
  }
}
