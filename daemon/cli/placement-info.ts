/** What `moecode info` and `moecode run` say about where the experts live and how the expert cache did. */
import type { Model } from '../engine/model.js';
import type { GgufFile } from '../gguf/gguf-reader.js';
import type { ModelConfig } from '../model/hparams.js';
import { modelWeights } from '../model/model-weights.js';
import { emptyOffloadReport, formatOffloadReport } from '../model/offload-stats.js';
import { formatPlacement, GpuBudgetTooSmallError, type Placement } from '../model/placement.js';
import type { GpuInfo } from '../gpu/device.js';
import { resolveGpuBudget } from '../gpu/gpu-budget.js';
import { planAdapterPlacement } from '../gpu/gpu-placement.js';

/** The binding limit assumed when no adapter was found (WebGPU's largest common one). */
const FALLBACK_BINDING = 1 << 30;

/**
 * The placement `moecode run` would use on the GPU backend (its defaults: one slot, a context of
 * min(4096, training context), batches of 256), or why the budget cannot hold the model.
 */
export function describePlacement(
  file: GgufFile,
  cfg: ModelConfig,
  gpu: GpuInfo | undefined,
  maxBinding: number,
  budgetFlag: number | undefined,
): { placement: Placement; text: string } | { error: string } {
  const nCtx = Math.max(16, Math.min(4096, cfg.n_ctx_train || 4096));
  const budget = resolveGpuBudget(budgetFlag, gpu ?? { isFallback: false });
  try {
    // as the GPU backend plans it (gpu-backend.ts)
    const placement = planAdapterPlacement(file, cfg, modelWeights(file, cfg), {
      maxTokens: Math.min(256, nCtx),
      nCtx,
      nSlots: 1,
      maxLogitRows: 1,
      maxBindingBytes: maxBinding || FALLBACK_BINDING,
      budgetBytes: budget,
      hostCacheBytes: undefined,
      isFallback: gpu?.isFallback ?? false,
    });
    const source = budgetFlag ? '--gpu-budget' : process.env.MOECODE_GPU_BUDGET ? 'MOECODE_GPU_BUDGET' : gpu?.isFallback ? 'software adapter: RAM less a reserve' : 'no limit known for this adapter';
    return { placement, text: `${formatPlacement(placement)}\n  budget from: ${source}` };
  } catch (e) {
    if (e instanceof GpuBudgetTooSmallError) return { error: e.message };
    throw e;
  }
}

/**
 * The line `moecode run` ends with: the expert placement, the expert cache's hit rate, the prefetch
 * accuracy and the bytes uploaded per token; `tokens` is how many tokens the run evaluated.
 */
export function offloadLine(model: Model, tokens: number): string | undefined {
  const cfg = model.cfg;
  if (cfg.n_expert === 0) return undefined;
  const report = model.offload;
  if (report) return formatOffloadReport(report);
  if (model.backendInfo.kind === 'cpu') return `experts: all ${cfg.n_expert * cfg.n_layer} in host memory, run by the CPU backend (no GPU expert cache)`;
  // every expert resident on the GPU: each routed choice is a hit, nothing is uploaded
  const total = cfg.n_expert * model.cfg.n_layer;
  const r = emptyOffloadReport(total, total);
  r.tokens = tokens;
  r.choices = r.hits = tokens * cfg.n_expert_used * cfg.n_layer;
  return formatOffloadReport(r);
}
