/**
 * The limits the fit check (model/fit-plan.ts) plans against, per backend, besides the memory budget
 * (model/memory-budget.ts; WebGPU does not tell how much memory a hardware GPU has, so there the
 * automatic budget is the host's free memory too, and the message says to set the budget):
 *  - GPU: the largest storage buffer (one layer's KV cache, one activation) from the adapter's limits;
 *  - CPU: the ranks the CPU backend will use, the KV heads each keeps, 4 GiB per WebAssembly memory.
 */
import { cpuFitInputs } from '../cpu/cpu-backend.js';
import type { Gpu } from '../gpu/device.js';
import { estimateGraphSize } from '../gpu/graph-size.js';
import type { BackendLimits, MemoryBudget } from '../model/fit-plan.js';
import type { ModelConfig } from '../model/hparams.js';
import type { ModelWeights } from '../model/model-weights.js';

/** Dawn fails to allocate a buffer of exactly the adapter's limit (SwiftShader, 1 GiB): stay this far below. */
const BUFFER_MARGIN = 4 * 1024 * 1024;

/**
 * Limits of the WebGPU backend on `gpu`; with the model, the graph's own activation estimate (the one the
 * GPU backend's placement uses: gpu/graph-size.ts).
 */
export function gpuLimits(gpu: Pick<Gpu, 'info'>, budget: MemoryBudget, model?: { cfg: ModelConfig; weights: ModelWeights }): BackendLimits {
  const i = gpu.info;
  const source = i.isFallback || budget.explicit ? budget.source : `${budget.source}; WebGPU does not tell the GPU's own memory: set ${budget.knob} to it`;
  const activationBytes = model
    ? (maxBatch: number, nCtx: number, logitRows: number) => estimateGraphSize(model.cfg, model.weights, { maxTokens: maxBatch, nCtx, nSlots: 1, maxLogitRows: logitRows }).activations
    : undefined;
  return { kind: 'gpu', budget: { ...budget, source }, maxBufferBytes: Math.min(i.maxStorageBufferBindingSize, i.maxBufferSize) - BUFFER_MARGIN, activationBytes };
}

/** Limits of the CPU backend with `threads` (0: physical cores). */
export function cpuLimits(cfg: ModelConfig, weights: ModelWeights, weightBytes: number, threads: number | undefined, budget: MemoryBudget): BackendLimits {
  return { kind: 'cpu', budget, cpu: cpuFitInputs(cfg, weights, weightBytes, threads) };
}
