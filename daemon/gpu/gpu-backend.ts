/**
 * The WebGPU backend: weights streamed into GPU buffers (weight-store.ts), the forward pass recorded once
 * into a graph (graph-builder.ts) and run a step at a time (graph-runner.ts), sampling on the GPU. Under a
 * GPU memory budget (gpu-budget.ts) the placement (gpu-placement.ts) keeps as many experts on the GPU as
 * fit; the others live on the host and the expert executor (expert-executor.ts) runs them.
 */
import type { GgufFile } from '../gguf/gguf-reader.js';
import { ARCHITECTURES } from '../model/architectures.js';
import type { BackendOptions, ForwardBackend, SamplingParams, StepInput } from '../model/backend.js';
import type { CachePolicyOptions } from '../model/expert-cache-policy.js';
import type { ModelConfig } from '../model/hparams.js';
import { weightBytesByClass, type MemoryPlan } from '../model/memory-plan.js';
import { allMatrices, allVectors, type ModelWeights } from '../model/model-weights.js';
import type { OffloadReport } from '../model/offload-stats.js';
import { expertMatrices } from '../model/weights.js';
import { createGpu, describeGpu, type Gpu, type GpuOptions } from './device.js';
import { ExpertExecutor } from './expert-executor.js';
import { resolveGpuBudget } from './gpu-budget.js';
import { planAdapterPlacement } from './gpu-placement.js';
import { GraphBuilder } from './graph-builder.js';
import { GraphRunner } from './graph-runner.js';
import { KernelRegistry, type StepParams } from './kernels.js';
import { WeightStore } from './weight-store.js';

export interface GpuBackendOptions extends BackendOptions {
  /** An already created GPU (the caller keeps ownership unless ownGpu), or options to create one. */
  gpu?: Gpu;
  ownGpu?: boolean;
  gpuOptions?: GpuOptions;
  /** GPU memory budget in bytes (0 or absent: MOECODE_GPU_BUDGET, else the adapter's default; gpu-budget.ts). */
  gpuBudgetBytes?: number;
  /** Instead of a budget in bytes: the non-expert part plus this share (0..1) of the experts on the GPU. */
  expertShare?: number;
  /** Host memory for experts outside the GPU (absent: MOECODE_HOST_CACHE, else half of RAM). */
  hostCacheBytes?: number;
  /** Threads of the CPU expert service (0 or absent: physical cores). */
  threads?: number;
  /** How the expert cache decides (expert-cache-policy.ts); defaults otherwise. */
  expertPolicy?: Partial<CachePolicyOptions>;
}

export class GpuBackend implements ForwardBackend {
  private constructor(
    readonly gpu: Gpu,
    private readonly ownsGpu: boolean,
    readonly memory: MemoryPlan,
    private readonly store: WeightStore,
    private readonly graph: GraphBuilder,
    readonly runner: GraphRunner,
    private readonly nCtx: number,
    private readonly executor: ExpertExecutor | undefined,
  ) {}

  /** Expert placement and cache counters; undefined when every expert is on the GPU. */
  offloadReport(): OffloadReport | undefined {
    return this.executor?.report;
  }

  get info() {
    return { kind: 'gpu' as const, description: describeGpu(this.gpu.info), isSoftwareGpu: this.gpu.info.isFallback };
  }

  static async load(file: GgufFile, cfg: ModelConfig, weights: ModelWeights, opts: GpuBackendOptions): Promise<GpuBackend> {
    const gpu = opts.gpu ?? (await createGpu(opts.gpuOptions));
    let store: WeightStore | undefined;
    let graph: GraphBuilder | undefined;
    let executor: ExpertExecutor | undefined;
    try {
      const maxLogitRows = opts.allLogits ? opts.maxBatch : 1;
      // refused here, before anything is allocated, when the budget cannot hold the non-expert part
      const placement = planAdapterPlacement(file, cfg, weights, {
        maxTokens: opts.maxBatch,
        nCtx: opts.nCtx,
        nSlots: opts.nSlots,
        kvType: opts.kvType ?? 'f16',
        maxLogitRows,
        maxBindingBytes: gpu.maxBindingBytes,
        budgetBytes: resolveGpuBudget(opts.gpuBudgetBytes, gpu.info),
        hostCacheBytes: opts.hostCacheBytes,
        expertShare: opts.expertShare,
        isFallback: gpu.info.isFallback,
      });
      const offloaded = new Set<string>();
      weights.layers.forEach((l, il) => {
        if (l.experts && placement.slots[il]! < l.experts.up.length) for (const h of expertMatrices(l.experts)) offloaded.add(h.name);
      });
      // the weights and expert slots to upload (progress of the load)
      const totalBytes = placement.gpuBytes - placement.byClass['kv cache']!.gpu - placement.byClass['activations']!.gpu;
      store = new WeightStore(gpu.device, file, gpu.maxBindingBytes, (b) => opts.onProgress?.(totalBytes ? Math.min(1, b / totalBytes) : 1));
      for (const v of allVectors(weights)) await store.vector(v);
      for (const m of allMatrices(weights)) if (!offloaded.has(m.name)) await store.matrix(m);
      if (!placement.allResident) {
        executor = await ExpertExecutor.create(gpu.device, store, file, cfg, weights, placement, {
          maxTokens: opts.maxBatch,
          threads: opts.threads,
          hostCacheBytes: placement.hostCacheBytes,
          policy: opts.expertPolicy,
        });
      }
      store.loaded();
      const kernels = new KernelRegistry(gpu.device);
      graph = new GraphBuilder(
        gpu.device,
        kernels,
        {
          maxTokens: opts.maxBatch,
          nCtx: opts.nCtx,
          nSlots: opts.nSlots,
          maxLogitRows,
          rope: cfg.rope,
          geluF16: true,
          kvType: opts.kvType ?? 'f16',
        },
        store,
      );
      graph.expertExecutor = executor;
      ARCHITECTURES[cfg.arch](graph, cfg, weights);
      const runner = new GraphRunner(graph);
      await kernels.checkCompilation();
      await gpu.device.queue.onSubmittedWorkDone();
      const { byClass, weights: weightBytes, largest } = weightBytesByClass(file);
      const gpuWeights = store.bytes;
      const memory: MemoryPlan = {
        byClass,
        weights: placement.allResident ? weightBytes : gpuWeights,
        kvCache: graph.kvBytes,
        activations: graph.bytes - graph.kvBytes,
        total: (placement.allResident ? weightBytes : gpuWeights) + graph.bytes,
        largestTensor: largest,
        maxBindingBytes: gpu.maxBindingBytes,
        maxBufferSize: gpu.info.maxBufferSize,
        shardedMatrices: store.shardedMatrices,
        placement,
      };
      return new GpuBackend(gpu, !opts.gpu || Boolean(opts.ownGpu), memory, store, graph, runner, opts.nCtx, executor);
    } catch (e) {
      await executor?.dispose();
      graph?.destroy();
      store?.destroy();
      if (!opts.gpu || opts.ownGpu) gpu.destroy();
      throw e;
    }
  }

  private params(step: StepInput, logits: 'last' | 'all', seed = 0, sampleIndex = 0): StepParams {
    const n = step.tokens.length;
    return {
      n_tokens: n,
      pos_start: step.pos,
      n_kv: step.pos + n,
      logits_start: logits === 'last' ? n - 1 : 0,
      n_logits: logits === 'last' ? 1 : n,
      kv_base: step.slot * this.nCtx,
      seed,
      sample_index: sampleIndex,
    };
  }

  sample(step: StepInput, sampling: SamplingParams, sampleIndex: number): Promise<number> {
    this.executor?.onStep(step.tokens.length);
    return this.runner.stepAndSample(this.params(step, 'last', sampling.seed, sampleIndex), step.tokens, sampling);
  }

  feed(step: StepInput): Promise<void> {
    this.executor?.onStep(step.tokens.length);
    return this.runner.stepOnly(this.params(step, 'last'), step.tokens);
  }

  logits(step: StepInput): Promise<Float32Array> {
    this.executor?.onStep(step.tokens.length);
    return this.runner.stepAndReadLogits(this.params(step, 'all'), step.tokens);
  }

  async dispose(): Promise<void> {
    await this.executor?.dispose();
    this.runner.destroy();
    this.graph.destroy();
    this.store.destroy();
    if (this.ownsGpu) this.gpu.destroy();
  }
}
