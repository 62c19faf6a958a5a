/**
 * The CPU backend: the forward pass in WebAssembly SIMD on worker threads, tensor-parallel over ranks
 * (partition.ts). Each rank has its own WebAssembly memory (at most 4 GiB: a model larger than the
 * threads' share of that gets more ranks than threads) holding its slice of the weights, its KV heads and
 * its scratch. The main thread posts a step through the shared control block (control.ts), waits without
 * blocking the event loop, gathers the logits rows from the ranks' memories and samples on the host.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { GgufFile } from '../gguf/gguf-reader.js';
import type { BackendOptions, ForwardBackend, SamplingParams, StepInput } from '../model/backend.js';
import type { ModelConfig } from '../model/hparams.js';
import { kvCacheBytes, weightBytesByClass, type MemoryPlan } from '../model/memory-plan.js';
import type { ModelWeights } from '../model/model-weights.js';
import { sampleLogits, uniformDraw } from '../model/sample-logits.js';
import { MAX_WASM_BYTES, WASM_PAGE } from './arena.js';
import { abortAll, Cmd, Ctl, createControl, postStepAndWait, RankFailure } from './control.js';
import { planPartition } from './partition.js';
import type { RankInit, RankMessage } from './rank-messages.js';
import type { TensorLocation } from './slice-reader.js';
import { CpuBackendUnavailableError, heapBase, instantiateKernels, kernelModule } from './wasm-kernels.js';

export interface CpuBackendOptions extends BackendOptions {
  /** Worker threads (0 or absent: the machine's physical cores). */
  threads?: number;
}

export class CpuBackendError extends Error {
  override name = 'CpuBackendError';
}

/** Physical cores: logical CPUs halved when SMT is on (Linux sysfs), else all logical CPUs. */
export function physicalCores(): number {
  const logical = availableParallelism();
  try {
    const smt = readFileSync('/sys/devices/system/cpu/smt/active', 'utf8').trim();
    if (smt === '1') return Math.max(1, Math.floor(logical / 2));
  } catch {
    // not Linux, or no sysfs: assume no SMT
  }
  return logical;
}

/** The rank worker: the bundle next to this one (dist/cpu-worker.js), or the TypeScript source through tsx (tests). */
export function startWorker(name: string): Worker {
  const bundled = join(__dirname, 'cpu-worker.js');
  if (existsSync(bundled)) return new Worker(bundled, { name });
  const source = join(__dirname, 'rank-worker.ts');
  if (existsSync(source)) return new Worker(`require('tsx/cjs'); require(${JSON.stringify(source)});`, { eval: true, name });
  throw new CpuBackendUnavailableError(`the CPU backend's worker script is missing next to ${__dirname}: run \`npm run build\``);
}

/** Resolves when `worker` has exited; terminates it after `ms`. */
export function exited(worker: Worker, ms: number): Promise<void> {
  return new Promise((resolve) => {
    if (worker.threadId < 0) return resolve();
    const timer = setTimeout(() => void worker.terminate(), ms);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/** A rank's memory may hold at most this much of the weights (the rest: KV cache, activations, margin). */
const WEIGHTS_PER_RANK = MAX_WASM_BYTES * 0.8;

/** Ranks for a model: one per thread, more when the weights need more 4 GiB memories. */
export function cpuRankCount(weightBytes: number, threads?: number): number {
  return Math.max(Math.max(1, Math.floor(threads || physicalCores())), Math.ceil(weightBytes / WEIGHTS_PER_RANK));
}

/** What the fit check (model/fit-plan.ts) needs to know about the CPU backend's ranks, before loading. */
export function cpuFitInputs(cfg: ModelConfig, weights: ModelWeights, weightBytes: number, threads?: number): { nRanks: number; kvHeadsMaxPerRank: number; kvHeadsTotal: number; maxRankBytes: number } {
  const nRanks = cpuRankCount(weightBytes, threads);
  const kvHeads = planPartition(cfg, weights, nRanks).ranks.map((r) => r.kvHeads.end - r.kvHeads.start);
  return { nRanks, kvHeadsMaxPerRank: Math.max(...kvHeads), kvHeadsTotal: kvHeads.reduce((a, b) => a + b, 0), maxRankBytes: MAX_WASM_BYTES };
}

interface RankHandle {
  worker: Worker;
  memory: WebAssembly.Memory;
  logitsPtr: number;
  logitsCols: number;
  bytes: number;
}

export class CpuBackend implements ForwardBackend {
  private broken: Error | undefined;
  private busy = false;
  private readonly failure = new RankFailure();

  private constructor(
    private readonly ranks: RankHandle[],
    private readonly control: Int32Array,
    readonly memory: MemoryPlan,
    private readonly nVocab: number,
    private readonly threads: number,
    private readonly relaxed: boolean,
  ) {}

  get info() {
    const n = this.ranks.length;
    const ranks = n !== this.threads ? `, ${n} memory shards` : '';
    return { kind: 'cpu' as const, description: `CPU: WebAssembly ${this.relaxed ? 'relaxed ' : ''}SIMD, ${this.threads} thread${this.threads === 1 ? '' : 's'}${ranks}`, isSoftwareGpu: false, threads: this.threads };
  }

  static async load(file: GgufFile, cfg: ModelConfig, weights: ModelWeights, opts: CpuBackendOptions): Promise<CpuBackend> {
    const { module, relaxed } = kernelModule();
    const threads = Math.max(1, Math.floor(opts.threads || physicalCores()));
    const { byClass, weights: weightBytes, largest } = weightBytesByClass(file);
    const nRanks = cpuRankCount(weightBytes, threads);
    const plan = planPartition(cfg, weights, nRanks);
    const base = heapBase(instantiateKernels(module, new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true })));
    const control = createControl(opts.maxBatch);
    const tensors: Record<string, TensorLocation> = {};
    for (const t of file.tensors) tensors[t.name] = { path: file.parts[t.part]!.path, offset: t.offset, type: t.type, dims: t.dims };
    const maxLogitRows = opts.allLogits ? opts.maxBatch : 1;
    const memories = Array.from({ length: nRanks }, () => new WebAssembly.Memory({ initial: Math.ceil(base / WASM_PAGE) + 1, maximum: 65536, shared: true }));
    const progress = new Array<number>(nRanks).fill(0);
    const spin = nRanks <= availableParallelism() ? 20000 : 0;
    const ranks: RankHandle[] = [];
    try {
      const ready = await Promise.all(
        memories.map(
          (memory, rank) =>
            new Promise<RankHandle>((resolve, reject) => {
              const worker = startWorker(`moecode-cpu-${rank}`);
              ranks.push({ worker, memory, logitsPtr: 0, logitsCols: 0, bytes: 0 });
              worker.on('message', (m: RankMessage) => {
                if (m.kind === 'progress') {
                  progress[rank] = m.fraction;
                  try {
                    opts.onProgress?.(Math.min(...progress));
                  } catch (e) {
                    reject(e);
                  }
                } else if (m.kind === 'ready') resolve({ worker, memory, logitsPtr: m.logitsPtr, logitsCols: m.logitsCols, bytes: m.bytes });
                else reject(new CpuBackendError(`CPU rank ${rank}: ${m.message}`));
              });
              worker.once('error', reject);
              worker.once('exit', (code) => reject(new CpuBackendError(`CPU rank ${rank} exited with code ${code} while loading`)));
              const init: RankInit = {
                rank,
                module,
                memories,
                control,
                cfg,
                weights,
                plan,
                tensors,
                nCtx: opts.nCtx,
                nSlots: opts.nSlots,
                maxBatch: opts.maxBatch,
                maxLogitRows,
                kvF16: (opts.kvType ?? 'f16') === 'f16',
                spin,
              };
              worker.postMessage(init);
            }),
        ),
      );
      const kvEl = (opts.kvType ?? 'f16') === 'f16' ? 2 : 4;
      const kv = (kvCacheBytes(cfg.n_layer, opts.nSlots, opts.nCtx, cfg.n_head_kv * cfg.n_embd_head_k, cfg.n_head_kv * cfg.n_embd_head_v) / 4) * kvEl;
      const used = ready.reduce((n, r) => n + r.bytes, 0);
      const memory: MemoryPlan = {
        byClass,
        weights: weightBytes,
        kvCache: kv,
        activations: Math.max(0, used - weightBytes - kv),
        total: used,
        largestTensor: largest,
        maxBindingBytes: MAX_WASM_BYTES,
        maxBufferSize: MAX_WASM_BYTES,
      };
      const backend = new CpuBackend(ready, control, memory, cfg.n_vocab, threads, relaxed);
      for (const [rank, r] of ready.entries()) {
        r.worker.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
        r.worker.on('message', (m: RankMessage) => m.kind === 'error' && backend.failure.report(new CpuBackendError(`CPU rank ${rank}: ${m.message}`)));
        r.worker.on('error', (e) => backend.failure.report(e));
        r.worker.on('exit', (code) => backend.failure.report(new CpuBackendError(`CPU rank ${rank} exited with code ${code}`)));
      }
      return backend;
    } catch (e) {
      // ranks still loading stop at their next tensor and close their files; ranks already waiting exit
      abortAll(control);
      await Promise.all(ranks.map((r) => exited(r.worker, 10_000)));
      throw e;
    }
  }

  /** Posts a step to every rank and waits (without blocking the event loop) until all are done. */
  private async run(step: StepInput, logits: 0 | 1 | 2): Promise<void> {
    if (this.broken) throw this.broken;
    if (this.busy) throw new CpuBackendError('the CPU backend runs one step at a time: await the previous step first');
    const c = this.control;
    if (step.tokens.length > c.length - Ctl.TOKENS) throw new CpuBackendError(`a step of ${step.tokens.length} tokens exceeds the batch size`);
    this.busy = true;
    try {
      c[Ctl.CMD] = Cmd.STEP;
      c[Ctl.N_TOKENS] = step.tokens.length;
      c[Ctl.POS] = step.pos;
      c[Ctl.SLOT] = step.slot;
      c[Ctl.LOGITS] = logits;
      c.set(step.tokens, Ctl.TOKENS);
      if (await postStepAndWait(c, this.failure)) throw new CpuBackendError('a CPU rank failed');
    } catch (e) {
      this.broken = e as Error;
      throw e;
    } finally {
      this.busy = false;
    }
  }

  /** Logits rows [rows, n_vocab] gathered from the ranks' vocabulary slices. */
  private gather(rows: number): Float32Array {
    const V = this.nVocab;
    const out = new Float32Array(rows * V);
    let col = 0;
    for (const r of this.ranks) {
      const src = new Float32Array(r.memory.buffer, r.logitsPtr, rows * r.logitsCols);
      for (let i = 0; i < rows; i++) out.set(src.subarray(i * r.logitsCols, (i + 1) * r.logitsCols), i * V + col);
      col += r.logitsCols;
    }
    return out;
  }

  async sample(step: StepInput, sampling: SamplingParams, sampleIndex: number): Promise<number> {
    await this.run(step, 1);
    return sampleLogits(this.gather(1), sampling, uniformDraw(sampling.seed, sampleIndex));
  }

  async feed(step: StepInput): Promise<void> {
    await this.run(step, 0);
  }

  async logits(step: StepInput): Promise<Float32Array> {
    await this.run(step, 2);
    return this.gather(step.tokens.length);
  }

  async dispose(): Promise<void> {
    const c = this.control;
    Atomics.store(c, Ctl.CMD, Cmd.EXIT);
    Atomics.add(c, Ctl.STEP_SEQ, 1);
    Atomics.notify(c, Ctl.STEP_SEQ);
    this.broken ??= new CpuBackendError('the model has been unloaded');
    await Promise.all(this.ranks.map((r) => exited(r.worker, 2_000)));
  }
}
