/**
 * How to load a model under `moecode.gpu.memoryBudget`: read the GGUF's header, estimate weights, KV
 * cache per slot and activations, and pick the number of KV slots (documents kept warm, plus chat) and
 * the context length so the total stays under the budget, or refuse with the numbers.
 */
import { openGguf } from '../gguf/gguf-reader.js';
import { readModelConfig, type ModelConfig } from '../model/hparams.js';
import { kvCacheBytes, weightBytesByClass } from '../model/memory-plan.js';

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

/** Activations and scratch of one step: a rough upper bound (residual, attention, expert FFN, logits). */
function activationBytes(cfg: ModelConfig, maxBatch: number, nCtx: number): number {
  const perToken = cfg.n_embd * 8 + cfg.n_head * cfg.n_embd_head_k * 4 + Math.max(cfg.n_ff_exp * cfg.n_expert_used, cfg.n_ff) * 3 + cfg.n_expert * 2;
  return (maxBatch * perToken + maxBatch * cfg.n_head * nCtx + cfg.n_vocab * 2) * 4;
}

export async function planLoad(path: string, budgetMB: number, wantSlots = DEFAULT_SLOTS, maxBatch = DEFAULT_MAX_BATCH): Promise<LoadPlan> {
  const file = await openGguf(path);
  try {
    const cfg = readModelConfig(file);
    // routed experts beyond the budget live in host memory (model/placement.ts): only the rest must fit
    const { weights: all, byClass } = weightBytesByClass(file);
    const weights = all - (byClass['experts'] ?? 0);
    const ctxTrain = Math.min(4096, cfg.n_ctx_train || 4096);
    const kv = (slots: number, nCtx: number) => kvCacheBytes(cfg.n_layer, slots, nCtx, cfg.n_head_kv * cfg.n_embd_head_k, cfg.n_head_kv * cfg.n_embd_head_v);
    const total = (slots: number, nCtx: number) => weights + kv(slots, nCtx) + activationBytes(cfg, Math.min(maxBatch, nCtx), nCtx);
    if (!(budgetMB > 0)) return { nSlots: wantSlots, nCtx: ctxTrain, maxBatch, estimatedBytes: total(wantSlots, ctxTrain) };
    const budget = budgetMB * MiB;
    // most slots at the full context, then a shorter context for at least two slots (chat + a document), then one
    for (let slots = wantSlots; slots >= 2; slots--) if (total(slots, ctxTrain) <= budget) return { nSlots: slots, nCtx: ctxTrain, maxBatch, estimatedBytes: total(slots, ctxTrain) };
    for (let nCtx = ctxTrain; nCtx >= Math.min(MIN_CTX, ctxTrain); nCtx = Math.floor(nCtx / 2)) {
      for (const slots of [2, 1]) if (total(slots, nCtx) <= budget) return { nSlots: slots, nCtx, maxBatch, estimatedBytes: total(slots, nCtx) };
      if (nCtx <= MIN_CTX) break;
    }
    const need = total(1, Math.min(MIN_CTX, ctxTrain));
    throw new BudgetError(
      `the model needs about ${Math.ceil(need / MiB)} MB of GPU memory (weights ${Math.ceil(weights / MiB)} MB${byClass['experts'] ? ' besides its experts, which can live in host memory' : ''}) but moecode.gpu.memoryBudget is ${budgetMB} MB`,
    );
  } finally {
    await file.close();
  }
}
