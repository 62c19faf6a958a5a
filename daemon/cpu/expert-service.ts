/**
 * The CPU expert service: computes routed experts that live in host memory, for the GPU backend's expert
 * executor (gpu/expert-executor.ts), on the CPU backend's machinery — worker ranks running its WebAssembly
 * kernels, each on its slice of every expert's width (expert-rank.ts). Experts are read from the GGUF on
 * demand into a host expert cache of `hostCacheBytes` (slots in the ranks' memories, least recently used
 * evicted), so a model larger than RAM still runs, from disk; they never pass through the JS heap.
 *
 *   const svc = await CpuExpertService.start(file, cfg, weights, hostLayers, { threads, hostCacheBytes, maxTokens });
 *   const out = await svc.run(il, x, nTokens, [{ expert: 5, rows: [0, 3] }, …]); // [Σ rows, n_embd]
 */
import type { GgufFile } from '../gguf/gguf-reader.js';
import type { ModelConfig } from '../model/hparams.js';
import type { ModelWeights } from '../model/model-weights.js';
import type { ExpertWeights } from '../model/weights.js';
import { MAX_WASM_BYTES, WASM_PAGE } from './arena.js';
import { abortAll, Cmd, Ctl, postStepAndWait, RankFailure } from './control.js';
import { CpuBackendError, exited, physicalCores, startWorker } from './cpu-backend.js';
import { createJobControl, Job, jobLayout, Task, TASK_WORDS, type ExpertRankInit, type ExpertRankMessage, type JobLayout } from './expert-job.js';
import { rankSlotBytes } from './expert-rank.js';
import type { TensorLocation } from './slice-reader.js';
import { heapBase, instantiateKernels, kernelModule } from './wasm-kernels.js';

export interface CpuExpertServiceOptions {
  /** Worker ranks (0 or absent: physical cores). */
  threads?: number;
  /** Host memory for experts (the cache); at least one expert is always held. */
  hostCacheBytes: number;
  /** Most tokens of a step. */
  maxTokens: number;
}

/** One expert of a job: the rows (token indices into x) it runs on. */
export interface ExpertTask {
  expert: number;
  rows: readonly number[];
}

export interface HostCacheStats {
  /** Experts read from the file into the cache. */
  loads: number;
  /** Tasks whose expert was already in the cache. */
  hits: number;
  /** Bytes of expert slabs read from the file. */
  bytesRead: number;
  /** Experts the cache holds at most. */
  slots: number;
}

/** A rank's memory holds at most this much of the cache (the rest: buffers, margin). */
const CACHE_PER_RANK = MAX_WASM_BYTES * 0.85;

interface Rank {
  worker: import('node:worker_threads').Worker;
  memory: WebAssembly.Memory;
  xPtr: number;
  outPtr: number;
}

function expertFileBytes(e: ExpertWeights, file: GgufFile): number {
  const slab = (h: ExpertWeights['gate'][number]) => {
    const t = file.tensorByName.get(h.tensor);
    if (!t) throw new Error(`tensor ${h.tensor} is missing`);
    return t.byteSize / (t.dims[2] ?? 1);
  };
  return slab(e.gate[0]!) + slab(e.up[0]!) + slab(e.down[0]!);
}

export class CpuExpertService {
  private broken: Error | undefined;
  private busy = false;
  private readonly failure = new RankFailure();
  /** `${il}:${expert}` → host cache slot, least recently used first. */
  private readonly cached = new Map<string, number>();
  private readonly freeSlots: number[];
  readonly stats: HostCacheStats;

  private constructor(
    private readonly ranks: Rank[],
    private readonly control: Int32Array,
    private readonly layout: JobLayout,
    private readonly nEmbd: number,
    private readonly maxTokens: number,
    private readonly expertBytes: number[],
    hostSlots: number,
  ) {
    this.freeSlots = Array.from({ length: hostSlots }, (_, i) => hostSlots - 1 - i);
    this.stats = { loads: 0, hits: 0, bytesRead: 0, slots: hostSlots };
  }

  get threads(): number {
    return this.ranks.length;
  }

  /** Starts the ranks for the experts of `hostLayers` (layers with experts outside the GPU). */
  static async start(file: GgufFile, cfg: ModelConfig, weights: ModelWeights, hostLayers: readonly number[], opts: CpuExpertServiceOptions): Promise<CpuExpertService> {
    const { module } = kernelModule();
    const nRanks = Math.max(1, Math.floor(opts.threads || physicalCores()));
    const specs: (ExpertWeights | null)[] = weights.layers.map((l, il) => (l.experts && hostLayers.includes(il) ? l.experts : null));
    const used = specs.filter((s): s is ExpertWeights => s !== null);
    if (used.length === 0) throw new Error('the CPU expert service needs at least one layer with host experts');
    const expertBytes = weights.layers.map((l) => (l.experts ? expertFileBytes(l.experts, file) : 0));
    const largest = Math.max(...used.map((e) => expertFileBytes(e, file)));
    const perRankSlot = Math.max(...Array.from({ length: nRanks }, (_, r) => rankSlotBytes(specs, cfg.n_embd, nRanks, r)));
    const hostSlots = Math.max(1, Math.min(Math.floor(opts.hostCacheBytes / largest), Math.floor(CACHE_PER_RANK / perRankSlot), used.length * cfg.n_expert));
    const k = cfg.n_expert_used;
    const layout = jobLayout(Math.min(cfg.n_expert, hostSlots), opts.maxTokens * k);
    const control = createJobControl(layout);
    const tensors: Record<string, TensorLocation> = {};
    for (const e of used) for (const h of [...e.gate, ...e.up, ...e.down]) {
      const t = file.tensorByName.get(h.tensor)!;
      tensors[h.tensor] = { path: file.parts[t.part]!.path, offset: t.offset, type: t.type, dims: t.dims };
    }
    const base = heapBase(instantiateKernels(module, new WebAssembly.Memory({ initial: 64, maximum: 65536, shared: true })));
    const ranks: Rank[] = [];
    /** Every worker started, ready or not: a failed start ends them all before it returns. */
    const started: import('node:worker_threads').Worker[] = [];
    try {
      await Promise.all(
        Array.from({ length: nRanks }, (_, rank) => {
          const memory = new WebAssembly.Memory({ initial: Math.ceil(base / WASM_PAGE) + 1, maximum: 65536, shared: true });
          return new Promise<void>((resolve, reject) => {
            const worker = startWorker(`moecode-experts-${rank}`);
            started.push(worker);
            worker.on('message', (m: ExpertRankMessage) => {
              if (m.kind === 'ready') {
                ranks[rank] = { worker, memory, xPtr: m.xPtr, outPtr: m.outPtr };
                resolve();
              } else reject(new CpuBackendError(`CPU expert rank ${rank}: ${m.message}`));
            });
            worker.once('error', reject);
            worker.once('exit', (code) => reject(new CpuBackendError(`CPU expert rank ${rank} exited with code ${code} while starting`)));
            const init: ExpertRankInit = { kind: 'experts', rank, nRanks, module, memory, control, layout, cfg, layers: specs, tensors, hostSlots, maxX: opts.maxTokens };
            worker.postMessage(init);
          });
        }),
      );
    } catch (e) {
      // ranks still starting (growing their memory for the cache) see the abort at their first wait and exit;
      // the ones that do not within 10 s are terminated. Nothing of this service outlives the failed start.
      abortAll(control);
      await Promise.all(started.map((w) => exited(w, 10_000)));
      throw e;
    }
    const svc = new CpuExpertService(ranks, control, layout, cfg.n_embd, opts.maxTokens, expertBytes, hostSlots);
    ranks.forEach((r, rank) => {
      r.worker.removeAllListeners('message').removeAllListeners('error').removeAllListeners('exit');
      r.worker.on('message', (m: ExpertRankMessage) => m.kind === 'error' && svc.failure.report(new CpuBackendError(`CPU expert rank ${rank}: ${m.message}`)));
      r.worker.on('error', (e) => svc.failure.report(e));
      r.worker.on('exit', (code) => svc.failure.report(new CpuBackendError(`CPU expert rank ${rank} exited with code ${code}`)));
    });
    return svc;
  }

  /** The host cache slot for (il, expert), loading it when absent; `pinned` slots are not evicted. */
  private slotFor(il: number, expert: number, pinned: Set<number>): { slot: number; load: boolean } {
    const key = `${il}:${expert}`;
    const have = this.cached.get(key);
    if (have !== undefined) {
      this.cached.delete(key);
      this.cached.set(key, have); // most recently used last
      this.stats.hits++;
      return { slot: have, load: false };
    }
    let slot = this.freeSlots.pop();
    if (slot === undefined) {
      for (const [k, s] of this.cached) {
        if (pinned.has(s)) continue;
        this.cached.delete(k);
        slot = s;
        break;
      }
    }
    if (slot === undefined) throw new Error('the host expert cache has no slot to evict');
    this.cached.set(key, slot);
    this.stats.loads++;
    this.stats.bytesRead += this.expertBytes[il]!;
    return { slot, load: true };
  }

  /**
   * Computes `tasks` of layer `il` on x [nX, n_embd] (f32 rows, one per token): returns the unweighted
   * expert outputs [Σ rows, n_embd], task after task, row after row.
   */
  async run(il: number, x: Float32Array, nX: number, tasks: readonly ExpertTask[]): Promise<Float32Array> {
    if (this.broken) throw this.broken;
    if (this.busy) throw new CpuBackendError('the CPU expert service runs one job at a time');
    const E = this.nEmbd;
    const total = tasks.reduce((n, t) => n + t.rows.length, 0);
    if (nX > this.maxTokens) throw new CpuBackendError(`${nX} input rows exceed the step size ${this.maxTokens}`);
    for (const t of tasks) for (const r of t.rows) if (!(r >= 0 && r < nX)) throw new CpuBackendError(`row ${r} is outside the ${nX} input rows`);
    const out = new Float32Array(total * E);
    if (total === 0) return out;
    this.busy = true;
    try {
      for (const r of this.ranks) new Float32Array(r.memory.buffer, r.xPtr, nX * E).set(x.subarray(0, nX * E));
      let outRow = 0;
      for (let i = 0; i < tasks.length; ) {
        // a batch: as many tasks as the cache and the job block hold, at most maxRows rows
        const batch: ExpertTask[] = [];
        let rows = 0;
        while (i < tasks.length && batch.length < this.layout.maxTasks && rows + tasks[i]!.rows.length <= this.layout.maxRows) {
          rows += tasks[i]!.rows.length;
          batch.push(tasks[i++]!);
        }
        if (batch.length === 0) throw new CpuBackendError(`a task of ${tasks[i]!.rows.length} rows exceeds the job size ${this.layout.maxRows}`);
        await this.runBatch(il, batch);
        for (let r = 0; r < rows; r++) {
          const dst = out.subarray((outRow + r) * E, (outRow + r + 1) * E);
          for (const rank of this.ranks) {
            const src = new Float32Array(rank.memory.buffer, rank.outPtr + r * E * 4, E);
            for (let j = 0; j < E; j++) dst[j]! += src[j]!;
          }
        }
        outRow += rows;
      }
      return out;
    } catch (e) {
      this.broken = e as Error;
      throw e;
    } finally {
      this.busy = false;
    }
  }

  private async runBatch(il: number, batch: ExpertTask[]): Promise<void> {
    const c = this.control;
    const pinned = new Set<number>();
    let row = 0;
    batch.forEach((t, i) => {
      const { slot, load } = this.slotFor(il, t.expert, pinned);
      pinned.add(slot);
      const w = Job.TASKS + i * TASK_WORDS;
      c[w + Task.LAYER] = il;
      c[w + Task.EXPERT] = t.expert;
      c[w + Task.SLOT] = slot;
      c[w + Task.LOAD] = load ? 1 : 0;
      c[w + Task.ROW_START] = row;
      c[w + Task.ROW_COUNT] = t.rows.length;
      c.set(t.rows, this.layout.rows + row);
      row += t.rows.length;
    });
    c[Job.N_TASKS] = batch.length;
    c[Ctl.CMD] = Cmd.STEP;
    if (await postStepAndWait(c, this.failure)) {
      // a rank failed: forget what the cache thought it held (its own error comes through `failure`)
      this.cached.clear();
      throw new CpuBackendError('a CPU expert rank failed');
    }
  }

  async dispose(): Promise<void> {
    const c = this.control;
    Atomics.store(c, Ctl.CMD, Cmd.EXIT);
    Atomics.add(c, Ctl.STEP_SEQ, 1);
    Atomics.notify(c, Ctl.STEP_SEQ);
    this.broken ??= new CpuBackendError('the model has been unloaded');
    await Promise.all(this.ranks.map((r) => exited(r.worker, 2000)));
  }
}
