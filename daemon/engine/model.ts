/**
 * A loaded model: GGUF validated, hyperparameters read, weights handed to a backend (WebGPU or the CPU)
 * that runs the forward pass. Prompts are fed in chunks of at most maxBatch tokens; sessions (KV slots)
 * are handed out by slot index. Before the backend allocates anything, every check runs and the slots ×
 * context are planned under the memory budget and the backend's limits (fit-check.ts); all problems
 * found are thrown together as a ModelCheckError.
 */
import { basename } from 'node:path';
import { openGguf, type GgufFile } from '../gguf/gguf-reader.js';
import { CpuBackend } from '../cpu/cpu-backend.js';
import type { Gpu, GpuOptions } from '../gpu/device.js';
import { GpuBackend } from '../gpu/gpu-backend.js';
import { backendChoice, resolveBackend, type BackendChoice } from './backend-choice.js';
import type { BackendInfo, ForwardBackend, SamplingParams } from '../model/backend.js';
import type { CachePolicyOptions } from '../model/expert-cache-policy.js';
import type { FitPlan } from '../model/fit-plan.js';
import type { ModelConfig } from '../model/hparams.js';
import type { OffloadReport } from '../model/offload-stats.js';
import type { MemoryPlan } from '../model/memory-plan.js';
import { checkModel } from '../model/model-check.js';
import { ModelCheckError } from '../model/model-problems.js';
import { fitForBackend, type FitOptions } from './fit-check.js';

/**
 * nCtx (per slot; 0 = the longest that fits, absent = min(4096, training context)), nSlots (default 1) and
 * minSlots (default nSlots), maxBatch (default 256), allLogits (eval), kvType (both backends, default
 * f16), memoryBudget (bytes, 0 = automatic), threads (CPU backend): see fit-check.ts.
 */
export interface LoadOptions extends FitOptions {
  /** Which backend runs the model (default: MOECODE_BACKEND, else auto; see backend-choice.ts). */
  backend?: BackendChoice;
  /** Instead of memoryBudget on the GPU backend: the non-expert part plus this share (0..1) of the experts on the GPU. */
  expertShare?: number;
  /** Host memory for experts outside the GPU (absent: MOECODE_HOST_CACHE, else half of RAM). */
  hostCacheBytes?: number;
  /** The GPU expert cache's policy (model/expert-cache-policy.ts); defaults otherwise. */
  expertPolicy?: Partial<CachePolicyOptions>;
  /** An already created GPU (then the GPU backend runs), or options to create one. */
  gpu?: Gpu;
  gpuOptions?: GpuOptions;
  /** Called with the fraction of weight bytes loaded. */
  onProgress?: (fraction: number) => void;
}

export class ContextOverflowError extends Error {
  override name = 'ContextOverflowError';
}

export class Model {
  private disposed = false;

  private constructor(
    readonly path: string,
    readonly cfg: ModelConfig,
    readonly file: GgufFile,
    readonly backend: ForwardBackend,
    readonly nCtx: number,
    readonly nSlots: number,
    readonly maxBatch: number,
    readonly allLogits: boolean,
    readonly loadMs: number,
    /** The plan it was loaded with: slots × context, KV type, the budget and the estimates. */
    readonly fit: FitPlan,
  ) {}

  get name(): string {
    return this.cfg.name || basename(this.path);
  }

  get memory(): MemoryPlan {
    return this.backend.memory;
  }

  /** Expert placement and cache counters; undefined when every expert runs where the backend keeps it (no offload). */
  get offload(): OffloadReport | undefined {
    return this.backend.offloadReport?.();
  }

  /** Which backend runs the model, for status lines. */
  get backendInfo(): BackendInfo {
    return this.backend.info;
  }

  static async load(path: string, opts: LoadOptions = {}): Promise<Model> {
    const t0 = performance.now();
    const file = await openGguf(path);
    let ownGpu: Gpu | undefined;
    try {
      // every problem the file has, whatever the backend; then the backend's kernels and limits
      const structural = checkModel(file);
      if (structural.problems.length > 0) throw new ModelCheckError(structural.problems);
      const cfg = structural.config!;
      const weights = structural.weights!;
      const where = opts.gpu ? { kind: 'gpu' as const, gpu: opts.gpu } : await resolveBackend(opts.backend ?? backendChoice(), opts.gpuOptions);
      if (!opts.gpu && where.kind === 'gpu') ownGpu = where.gpu;
      const fit = fitForBackend(file, structural, where, opts);
      const { nCtx, nSlots, maxBatch, kvType } = fit;
      const allLogits = Boolean(opts.allLogits);
      const common = { nCtx, nSlots, maxBatch, allLogits, kvType, onProgress: opts.onProgress };
      let backend: ForwardBackend;
      if (where.kind === 'gpu') {
        ownGpu = undefined; // the backend owns it from here (and destroys it if it fails)
        // experts beyond the budget live on the host; an automatic budget on a hardware GPU (whose memory
        // WebGPU does not tell) leaves every expert on it
        const gpuBudgetBytes = fit.budget.explicit || where.gpu.info.isFallback ? fit.budget.bytes : undefined;
        const placement = { gpuBudgetBytes, expertShare: opts.expertShare, hostCacheBytes: opts.hostCacheBytes, threads: opts.threads, expertPolicy: opts.expertPolicy };
        backend = await GpuBackend.load(file, cfg, weights, { ...common, ...placement, gpu: where.gpu, ownGpu: !opts.gpu });
      } else backend = await CpuBackend.load(file, cfg, weights, { ...common, threads: opts.threads });
      opts.onProgress?.(1);
      return new Model(path, cfg, file, backend, nCtx, nSlots, maxBatch, allLogits, performance.now() - t0, fit);
    } catch (e) {
      ownGpu?.destroy();
      await file.close();
      throw e;
    }
  }

  private check(slot: number, pos: number, n: number): void {
    if (this.disposed) throw new Error('the model has been unloaded');
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.nSlots) throw new Error(`KV slot ${slot} does not exist (model has ${this.nSlots})`);
    if (pos + n > this.nCtx) {
      throw new ContextOverflowError(`${pos + n} tokens exceed the context length of ${this.nCtx}`);
    }
  }

  private checkTokens(tokens: ArrayLike<number>): void {
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (!Number.isInteger(t) || t < 0 || t >= this.cfg.n_vocab) throw new Error(`token id ${t} is outside the vocabulary (0..${this.cfg.n_vocab - 1})`);
    }
  }

  /**
   * Feeds `tokens` at positions pos.. of a slot in chunks, then samples the next token from the last one.
   * `sampleIndex` seeds the draw together with sampling.seed; sampling.mask (token-mask.ts) limits which
   * tokens the draw may return (only the last chunk samples, so earlier chunks never read it).
   */
  async feedAndSample(slot: number, pos: number, tokens: readonly number[], sampling: SamplingParams, sampleIndex: number): Promise<number> {
    this.check(slot, pos, tokens.length);
    this.checkTokens(tokens);
    if (tokens.length === 0) throw new Error('nothing to evaluate');
    let p = pos;
    for (let i = 0; i < tokens.length; i += this.maxBatch) {
      const chunk = tokens.slice(i, i + this.maxBatch);
      if (i + chunk.length >= tokens.length) return this.backend.sample({ slot, pos: p, tokens: chunk }, sampling, sampleIndex);
      await this.backend.feed({ slot, pos: p, tokens: chunk });
      p += chunk.length;
    }
    throw new Error('unreachable');
  }

  /** Logits [n_vocab] after every token of `tokens` fed at positions pos.. of a slot (needs allLogits). */
  async feedAndReadLogits(slot: number, pos: number, tokens: readonly number[]): Promise<Float32Array[]> {
    if (!this.allLogits) throw new Error('load the model with allLogits to read logits for every position');
    this.check(slot, pos, tokens.length);
    this.checkTokens(tokens);
    const V = this.cfg.n_vocab;
    const rows: Float32Array[] = [];
    let p = pos;
    for (let i = 0; i < tokens.length; i += this.maxBatch) {
      const chunk = tokens.slice(i, i + this.maxBatch);
      const logits = await this.backend.logits({ slot, pos: p, tokens: chunk });
      for (let r = 0; r < chunk.length; r++) rows.push(logits.subarray(r * V, (r + 1) * V));
      p += chunk.length;
    }
    return rows;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.backend.dispose();
    await this.file.close();
  }
}
