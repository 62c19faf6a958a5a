/**
 * How to load a model under `moecode.gpu.memoryBudget`: read the GGUF's header, estimate what must be on
 * the GPU (the GPU backend's placement: non-expert weights, KV cache per slot, the graph's activations;
 * routed experts may live in host memory), and pick the number of KV slots (documents kept warm, plus
 * chat) and the context length so that stays under the budget, or refuse with the numbers.
 */
import { openGguf } from '../gguf/gguf-reader.js';
import { planGpuPlacement } from '../gpu/gpu-placement.js';
import { readModelConfig } from '../model/hparams.js';
import { weightBytesByClass } from '../model/memory-plan.js';
import { modelWeights } from '../model/model-weights.js';

export interface LoadPlan {
  nSlots: number;
  nCtx: number;
  maxBatch: number;
  /** Estimated GPU bytes with this plan. */
  estimatedBytes: number;
}

export const DEFAULT_SLOTS = 4;
export const DEFAULT_MAX_BATCH = 256;
const MIN_CTX = 1024;
const MiB = 1024 * 1024;

export class BudgetError extends Error {
  override readonly name = 'BudgetError';
}

export async function planLoad(path: string, budgetMB: number, wantSlots = DEFAULT_SLOTS, maxBatch = DEFAULT_MAX_BATCH): Promise<LoadPlan> {
  const file = await openGguf(path);
  try {
    const cfg = readModelConfig(file);
    const handles = modelWeights(file, cfg);
    // the GPU backend's own placement: non-expert weights, KV cache and the graph's activations must fit;
    // routed experts beyond the budget live in host memory (model/placement.ts)
    const { byClass } = weightBytesByClass(file);
    const experts = byClass['experts'] ?? 0;
    const ctxTrain = Math.min(4096, cfg.n_ctx_train || 4096);
    const placed = (slots: number, nCtx: number) =>
      planGpuPlacement(file, cfg, handles, { maxTokens: Math.min(maxBatch, nCtx), nCtx, nSlots: slots, maxLogitRows: 1, maxBindingBytes: 1 << 30, budgetBytes: null, hostCacheBytes: null });
    const total = (slots: number, nCtx: number) => placed(slots, nCtx).minimumBytes;
    if (!(budgetMB > 0)) return { nSlots: wantSlots, nCtx: ctxTrain, maxBatch, estimatedBytes: total(wantSlots, ctxTrain) + experts };
    const budget = budgetMB * MiB;
    const fit = (slots: number, nCtx: number): LoadPlan => ({ nSlots: slots, nCtx, maxBatch, estimatedBytes: Math.min(budget, total(slots, nCtx) + experts) });
    // most slots at the full context, then a shorter context for at least two slots (chat + a document), then one
    for (let slots = wantSlots; slots >= 2; slots--) if (total(slots, ctxTrain) <= budget) return fit(slots, ctxTrain);
    for (let nCtx = ctxTrain; nCtx >= Math.min(MIN_CTX, ctxTrain); nCtx = Math.floor(nCtx / 2)) {
      for (const slots of [2, 1]) if (total(slots, nCtx) <= budget) return fit(slots, nCtx);
      if (nCtx <= MIN_CTX) break;
    }
    const least = placed(1, Math.min(MIN_CTX, ctxTrain));
    const need = least.minimumBytes;
    const weights = need - least.byClass['kv cache']!.gpu - least.byClass['activations']!.gpu;
    throw new BudgetError(
      `the model needs about ${Math.ceil(need / MiB)} MB of GPU memory (weights ${Math.ceil(weights / MiB)} MB${experts ? ' besides its experts, which can live in host memory' : ''}) but moecode.gpu.memoryBudget is ${budgetMB} MB`,
    );
  } finally {
    await file.close();
  }
}
