/**
 * The WebGPU backend: weights streamed into GPU buffers (weight-store.ts), the forward pass recorded once
 * into a graph (graph-builder.ts) and run a step at a time (graph-runner.ts), sampling on the GPU.
 */
import { hasKernel, KNOWN_FORMATS } from '../formats/table.js';
import type { GgmlType } from '../gguf/ggml-types.js';
import type { GgufFile } from '../gguf/gguf-reader.js';
import { ARCHITECTURES } from '../model/architectures.js';
import type { BackendOptions, ForwardBackend, SamplingParams, StepInput } from '../model/backend.js';
import type { ModelConfig } from '../model/hparams.js';
import { weightBytesByClass, type MemoryPlan } from '../model/memory-plan.js';
import { allMatrices, allVectors, type ModelWeights } from '../model/model-weights.js';
import { createGpu, describeGpu, type Gpu, type GpuOptions } from './device.js';
import { GraphBuilder } from './graph-builder.js';
import { GraphRunner } from './graph-runner.js';
import { KernelRegistry, type StepParams } from './kernels.js';
import { WeightStore } from './weight-store.js';

/**
 * Weight types this backend has kernels for (formats with a `wgsl` block function). The engine's loader
 * accepts SUPPORTED_WEIGHT_TYPES (kernels on every backend); a caller that runs this backend only may read
 * the model config with these instead (readModelConfig(file, { weightTypes: GPU_WEIGHT_TYPES })).
 */
export const GPU_WEIGHT_TYPES: readonly GgmlType[] = KNOWN_FORMATS.filter((f) => hasKernel(f, 'wgsl')).map((f) => f.type);

export interface GpuBackendOptions extends BackendOptions {
  /** An already created GPU (the caller keeps ownership unless ownGpu), or options to create one. */
  gpu?: Gpu;
  ownGpu?: boolean;
  gpuOptions?: GpuOptions;
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
  ) {}

  get info() {
    return { kind: 'gpu' as const, description: describeGpu(this.gpu.info), isSoftwareGpu: this.gpu.info.isFallback };
  }

  static async load(file: GgufFile, cfg: ModelConfig, weights: ModelWeights, opts: GpuBackendOptions): Promise<GpuBackend> {
    const gpu = opts.gpu ?? (await createGpu(opts.gpuOptions));
    let store: WeightStore | undefined;
    let graph: GraphBuilder | undefined;
    try {
      const totalBytes = file.tensors.reduce((n, t) => n + Math.max(0, t.byteSize), 0);
      store = new WeightStore(gpu.device, file, gpu.maxBindingBytes, (b) => opts.onProgress?.(totalBytes ? b / totalBytes : 1));
      for (const v of allVectors(weights)) await store.vector(v);
      for (const m of allMatrices(weights)) await store.matrix(m);
      const kernels = new KernelRegistry(gpu.device);
      graph = new GraphBuilder(
        gpu.device,
        kernels,
        {
          maxTokens: opts.maxBatch,
          nCtx: opts.nCtx,
          nSlots: opts.nSlots,
          maxLogitRows: opts.allLogits ? opts.maxBatch : 1,
          rope: cfg.rope,
          geluF16: true,
          kvType: opts.kvType ?? 'f16',
        },
        store,
      );
      ARCHITECTURES[cfg.arch](graph, cfg, weights);
      const runner = new GraphRunner(graph);
      await kernels.checkCompilation();
      await gpu.device.queue.onSubmittedWorkDone();
      const { byClass, weights: weightBytes, largest } = weightBytesByClass(file);
      const memory: MemoryPlan = {
        byClass,
        weights: weightBytes,
        kvCache: graph.kvBytes,
        activations: graph.bytes - graph.kvBytes,
        total: weightBytes + graph.bytes,
        largestTensor: largest,
        maxBindingBytes: gpu.maxBindingBytes,
        maxBufferSize: gpu.info.maxBufferSize,
        shardedMatrices: store.shardedMatrices,
      };
      return new GpuBackend(gpu, !opts.gpu || Boolean(opts.ownGpu), memory, store, graph, runner, opts.nCtx);
    } catch (e) {
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
    return this.runner.stepAndSample(this.params(step, 'last', sampling.seed, sampleIndex), step.tokens, sampling);
  }

  feed(step: StepInput): Promise<void> {
    return this.runner.stepOnly(this.params(step, 'last'), step.tokens);
  }

  logits(step: StepInput): Promise<Float32Array> {
    return this.runner.stepAndReadLogits(this.params(step, 'all'), step.tokens);
  }

  async dispose(): Promise<void> {
    this.runner.destroy();
    this.graph.destroy();
    this.store.destroy();
    if (this.ownsGpu) this.gpu.destroy();
  }
}
