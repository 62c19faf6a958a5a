/**
 * The placement (model/placement.ts) of a model on the GPU backend: weight sizes as the GPU stores them
 * (weight-layout.ts row shards), the KV cache and activations the graph will allocate (graph-size.ts), and
 * the expert slabs' sizes in the file for the host side. Used by the backend before it allocates anything
 * and by `moecode info`.
 */
import type { GgufFile } from '../gguf/gguf-reader.js';
import type { ModelConfig } from '../model/hparams.js';
import type { ModelWeights } from '../model/model-weights.js';
import { budgetForExpertShare, planPlacement, type Placement, type PlacementInput } from '../model/placement.js';
import type { WeightHandle } from '../model/weights.js';
import { totalmem } from 'node:os';
import { resolveHostCacheBytes } from './gpu-budget.js';
import { estimateGraphSize, type GraphSizeOptions } from './graph-size.js';
import { planShards } from './weight-layout.js';

export interface GpuPlacementOptions extends GraphSizeOptions {
  maxBindingBytes: number;
  /** null: no limit. */
  budgetBytes: number | null;
  hostCacheBytes: number | null;
  /** Instead of budgetBytes: the fixed part plus this share (0..1) of the experts (placement.ts budgetForExpertShare). */
  expertShare?: number;
}

/**
 * The placement for an adapter, with the host expert cache sized as the GPU backend sizes it: `hostCacheBytes`
 * (or MOECODE_HOST_CACHE, else half of RAM); on a software adapter, whose "GPU" memory is host memory too, the
 * default cache gets only what the GPU part leaves of RAM less the reserve (gpu-budget.ts).
 */
export function planAdapterPlacement(
  file: GgufFile,
  cfg: ModelConfig,
  weights: ModelWeights,
  o: Omit<GpuPlacementOptions, 'hostCacheBytes'> & { hostCacheBytes: number | undefined; isFallback: boolean },
): Placement {
  const { isFallback, hostCacheBytes, ...rest } = o;
  const placement = planGpuPlacement(file, cfg, weights, { ...rest, hostCacheBytes: resolveHostCacheBytes(hostCacheBytes) });
  if (!isFallback) return placement;
  return planGpuPlacement(file, cfg, weights, { ...rest, hostCacheBytes: resolveHostCacheBytes(hostCacheBytes, process.env, totalmem(), placement.gpuBytes) });
}

export function planGpuPlacement(file: GgufFile, cfg: ModelConfig, weights: ModelWeights, o: GpuPlacementOptions): Placement {
  const graph = estimateGraphSize(cfg, weights, o);
  const fileBytes = (h: WeightHandle) => {
    const t = file.tensorByName.get(h.tensor);
    if (!t) throw new Error(`tensor ${h.tensor} is missing`);
    return h.expert === undefined ? t.byteSize : t.byteSize / (t.dims[2] ?? 1);
  };
  const input: PlacementInput = {
    weights,
    gpuMatrixBytes: (h) => planShards(h.type, h.rows, h.cols, o.maxBindingBytes).reduce((n, p) => n + p.bytes, 0),
    gpuVectorBytes: (h) => Math.max(16, Math.ceil((h.n * 4) / 16) * 16),
    fileMatrixBytes: fileBytes,
    kvCacheBytes: graph.kvCache,
    activationBytes: graph.activations,
    budgetBytes: o.budgetBytes,
    hostCacheBytes: o.hostCacheBytes,
  };
  if (o.expertShare === undefined) return planPlacement(input);
  return planPlacement({ ...input, budgetBytes: budgetForExpertShare(planPlacement({ ...input, budgetBytes: null }), o.expertShare) });
}
