/**
 * A loaded model: GGUF validated, hyperparameters read, weights handed to a backend (WebGPU or the CPU)
 * that runs the forward pass. Prompts are fed in chunks of at most maxBatch tokens; sessions (KV slots)
 * are handed out by slot index.
 */
import { basename } from 'node:path';
import { openGguf, type GgufFile } from '../gguf/gguf-reader.js';
import { CpuBackend } from '../cpu/cpu-backend.js';
import type { Gpu, GpuOptions } from '../gpu/device.js';
import { GpuBackend } from '../gpu/gpu-backend.js';
import { backendChoice, resolveBackend, type BackendChoice } from './backend-choice.js';
import type { BackendInfo, ForwardBackend, SamplingParams } from '../model/backend.js';
import type { CachePolicyOptions } from '../model/expert-cache-policy.js';
import type { OffloadReport } from '../model/offload-stats.js';
import { readModelConfig, type ModelConfig } from '../model/hparams.js';
import type { MemoryPlan } from '../model/memory-plan.js';
import { modelWeights } from '../model/model-weights.js';

export interface LoadOptions {
  /** Context length per sequence (default min(4096, training context)). */
  nCtx?: number;
  /** Independent sequences (KV slots), default 1. */
  nSlots?: number;
  /** Largest prefill chunk, default 256. */
  maxBatch?: number;
  /** Keep logits for every prompt position (needed by eval), default false. */
  allLogits?: boolean;
  /** Which backend runs the model (default: MOECODE_BACKEND, else auto; see backend-choice.ts). */
  backend?: BackendChoice;
  /** CPU backend threads, and the GPU backend's CPU expert service threads (0 or absent: physical cores). */
  threads?: number;
  /** GPU memory budget in bytes (GPU backend; 0 or absent: MOECODE_GPU_BUDGET, else the adapter's default). */
  gpuBudgetBytes?: number;
  /** Instead of gpuBudgetBytes: the non-expert part plus this share (0..1) of the experts on the GPU. */
  expertShare?: number;
  /** Host memory for experts outside the GPU (absent: MOECODE_HOST_CACHE, else half of RAM). */
  hostCacheBytes?: number;
  /** The GPU expert cache's policy (model/expert-cache-policy.ts); defaults otherwise. */
  expertPolicy?: Partial<CachePolicyOptions>;
  /** KV cache element type (CPU backend; the GPU backend keeps f32 for now). Default f16. */
  kvType?: 'f16' | 'f32';
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
    try {
      const cfg = readModelConfig(file);
      const weights = modelWeights(file, cfg);
      const nCtx = Math.max(16, Math.min(opts.nCtx ?? 4096, cfg.n_ctx_train || 4096));
      const nSlots = Math.max(1, opts.nSlots ?? 1);
      const maxBatch = Math.max(1, Math.min(opts.maxBatch ?? 256, nCtx));
      const allLogits = Boolean(opts.allLogits);
      const common = { nCtx, nSlots, maxBatch, allLogits, onProgress: opts.onProgress };
      const placement = { gpuBudgetBytes: opts.gpuBudgetBytes, expertShare: opts.expertShare, hostCacheBytes: opts.hostCacheBytes, threads: opts.threads, expertPolicy: opts.expertPolicy };
      let backend: ForwardBackend;
      if (opts.gpu) backend = await GpuBackend.load(file, cfg, weights, { ...common, ...placement, gpu: opts.gpu });
      else {
        const where = await resolveBackend(opts.backend ?? backendChoice(), opts.gpuOptions);
        backend =
          where.kind === 'gpu'
            ? await GpuBackend.load(file, cfg, weights, { ...common, ...placement, gpu: where.gpu, ownGpu: true })
            : await CpuBackend.load(file, cfg, weights, { ...common, threads: opts.threads, kvType: opts.kvType });
      }
      opts.onProgress?.(1);
      return new Model(path, cfg, file, backend, nCtx, nSlots, maxBatch, allLogits, performance.now() - t0);
    } catch (e) {
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
