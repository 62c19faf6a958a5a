/**
 * A model loaded on the GPU: GGUF validated, hyperparameters read, weights streamed into sharded GPU
 * buffers, the forward graph recorded once. Steps run through a GraphRunner; sessions (KV slots) are
 * handed out by slot index.
 */
import { basename } from 'node:path';
import { openGguf, type GgufFile } from '../gguf/gguf-reader.js';
import { createGpu, type Gpu, type GpuOptions } from '../gpu/device.js';
import { GraphBuilder } from '../gpu/graph-builder.js';
import { GraphRunner, type SamplingParams } from '../gpu/graph-runner.js';
import { KernelRegistry } from '../gpu/kernels.js';
import { WeightStore } from '../gpu/weight-store.js';
import { ARCHITECTURES } from '../model/architectures.js';
import { readModelConfig, type ModelConfig } from '../model/hparams.js';
import { kvCacheBytes, weightBytesByClass, type MemoryPlan } from '../model/memory-plan.js';
import { loadModelWeights } from '../model/model-weights.js';

export interface LoadOptions {
  /** Context length per sequence (default min(4096, training context)). */
  nCtx?: number;
  /** Independent sequences (KV slots), default 1. */
  nSlots?: number;
  /** Largest prefill chunk, default 256. */
  maxBatch?: number;
  /** Keep logits for every prompt position (needed by eval), default false. */
  allLogits?: boolean;
  /** An already created GPU, or options to create one. */
  gpu?: Gpu;
  gpuOptions?: GpuOptions;
  /** Called with the fraction of weight bytes uploaded. */
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
    readonly gpu: Gpu,
    private readonly ownsGpu: boolean,
    readonly nCtx: number,
    readonly nSlots: number,
    readonly maxBatch: number,
    readonly allLogits: boolean,
    readonly memory: MemoryPlan,
    private readonly weights: WeightStore,
    private readonly graph: GraphBuilder,
    readonly runner: GraphRunner,
    readonly loadMs: number,
  ) {}

  get name(): string {
    return this.cfg.name || basename(this.path);
  }

  static async load(path: string, opts: LoadOptions = {}): Promise<Model> {
    const t0 = performance.now();
    const file = await openGguf(path);
    let gpu: Gpu | undefined;
    let store: WeightStore | undefined;
    let graph: GraphBuilder | undefined;
    try {
      const cfg = readModelConfig(file);
      const build = ARCHITECTURES[cfg.arch];
      const nCtx = Math.max(16, Math.min(opts.nCtx ?? 4096, cfg.n_ctx_train || 4096));
      const nSlots = Math.max(1, opts.nSlots ?? 1);
      const maxBatch = Math.max(1, Math.min(opts.maxBatch ?? 256, nCtx));
      gpu = opts.gpu ?? (await createGpu(opts.gpuOptions));
      const totalBytes = file.tensors.reduce((n, t) => n + Math.max(0, t.byteSize), 0);
      store = new WeightStore(gpu.device, file, gpu.maxBindingBytes, (b) => opts.onProgress?.(totalBytes ? b / totalBytes : 1));
      const weights = await loadModelWeights(store, cfg);
      const kernels = new KernelRegistry(gpu.device);
      graph = new GraphBuilder(gpu.device, kernels, {
        maxTokens: maxBatch,
        nCtx,
        nSlots,
        maxLogitRows: opts.allLogits ? maxBatch : 1,
        rope: { freqBase: cfg.rope_freq_base, freqScale: cfg.rope_freq_scale, attnFactor: cfg.rope_attn_factor },
        geluF16: true,
      });
      build(graph, cfg, weights);
      const runner = new GraphRunner(graph);
      await kernels.checkCompilation();
      await gpu.device.queue.onSubmittedWorkDone();
      const { byClass, weights: weightBytes, largest } = weightBytesByClass(file);
      const kv = kvCacheBytes(cfg.n_layer, nSlots, nCtx, cfg.n_head_kv * cfg.n_embd_head_k, cfg.n_head_kv * cfg.n_embd_head_v);
      const memory: MemoryPlan = {
        byClass,
        weights: weightBytes,
        kvCache: kv,
        activations: graph.bytes - graph.kvBytes,
        total: weightBytes + graph.bytes,
        largestTensor: largest,
        maxBindingBytes: gpu.maxBindingBytes,
        maxBufferSize: gpu.info.maxBufferSize,
        shardedMatrices: store.shardedMatrices,
      };
      opts.onProgress?.(1);
      return new Model(path, cfg, file, gpu, !opts.gpu, nCtx, nSlots, maxBatch, Boolean(opts.allLogits), memory, store, graph, runner, performance.now() - t0);
    } catch (e) {
      graph?.destroy();
      store?.destroy();
      if (gpu && !opts.gpu) gpu.destroy();
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
      const t = tokens[i];
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
      const last = i + chunk.length >= tokens.length;
      const step = {
        n_tokens: chunk.length,
        pos_start: p,
        n_kv: p + chunk.length,
        logits_start: chunk.length - 1,
        n_logits: 1,
        kv_base: slot * this.nCtx,
        seed: sampling.seed,
        sample_index: sampleIndex,
      };
      if (last) return this.runner.stepAndSample(step, chunk, sampling);
      await this.runner.stepOnly(step, chunk);
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
      const logits = await this.runner.stepAndReadLogits(
        { n_tokens: chunk.length, pos_start: p, n_kv: p + chunk.length, logits_start: 0, n_logits: chunk.length, kv_base: slot * this.nCtx, seed: 0, sample_index: 0 },
        chunk,
      );
      for (let r = 0; r < chunk.length; r++) rows.push(logits.subarray(r * V, (r + 1) * V));
      p += chunk.length;
    }
    return rows;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.runner.destroy();
    this.graph.destroy();
    this.weights.destroy();
    if (this.ownsGpu) this.gpu.destroy();
    await this.file.close();
  }
}
