/**
 * The daemon's first look at a model it was asked to load, from the header alone: every problem the file
 * has (model/model-check.ts: architecture, tensors, types, tokenizer, …) and whether weights + KV cache
 * (slots × context) + activations fit the memory budget (model/fit-plan.ts). A file that fails here is
 * refused with all its problems while the old model keeps answering. The engine's load then checks again
 * against the backend's own limits (engine/fit-check.ts) and plans the slots and context it allocates.
 * Unless the CPU backend is chosen (or `auto` chose it for the model being replaced), routed experts are
 * not counted: on the GPU backend those beyond the budget live in host memory (model/placement.ts).
 */
import { openGguf } from '../gguf/gguf-reader.js';
import type { MoecodeSettings } from '../protocol.js';
import { DEFAULT_MAX_BATCH, DEFAULT_SLOTS, planFit, type FitPlan, type MemoryBudget } from '../model/fit-plan.js';
import { anyBackendLimits, hostMemory, memoryBudget, type HostMemory } from '../model/memory-budget.js';
import { checkModel } from '../model/model-check.js';
import { ModelCheckError } from '../model/model-problems.js';
import { residentWeightBytes } from '../model/memory-plan.js';
import { estimateGraphSize } from '../gpu/graph-size.js';

export { DEFAULT_MAX_BATCH, DEFAULT_SLOTS };

export type LoadPlan = FitPlan;

/** The budget the settings give a model of `weightBytes`: moecode.gpu.memoryBudget (MB) when set, else automatic. */
export function budgetOf(settings: MoecodeSettings, knob: string, weightBytes: number, host: HostMemory = hostMemory(), reclaimableBytes = 0): MemoryBudget {
  return memoryBudget(Math.round(settings.gpu.memoryBudget * 1024 * 1024), knob, weightBytes, host, reclaimableBytes);
}

/**
 * Checks the model at `path` and plans it under the settings' budget (with `reclaimableBytes` of a model
 * about to be replaced counted as free when the budget is automatic); throws a ModelCheckError listing
 * every problem.
 */
export async function planLoad(
  path: string,
  settings: MoecodeSettings,
  opts: {
    knob?: string;
    reclaimableBytes?: number;
    /** The backend `auto` resolved to for the model being replaced: the same settings resolve the same way, so the new one is counted like it. */
    autoResolvedTo?: 'cpu' | 'gpu';
  } = {},
): Promise<LoadPlan> {
  const file = await openGguf(path);
  try {
    const check = checkModel(file);
    if (check.problems.length > 0 || !check.config) throw new ModelCheckError(check.problems);
    const budget = budgetOf(settings, opts.knob ?? 'moecode.gpu.memoryBudget', check.weightBytes, hostMemory(), opts.reclaimableBytes ?? 0);
    // the CPU backend holds every weight, routed experts included
    const cpu = settings.engine.backend === 'cpu' || (settings.engine.backend === 'auto' && opts.autoResolvedTo === 'cpu');
    const cfg = check.config;
    const weights = check.weights!;
    // off the CPU backend, the GPU graph's own activation estimate (the engine's fit check uses it too)
    const limits = cpu ? anyBackendLimits(budget) : { ...anyBackendLimits(budget), activationBytes: (b: number, c: number, r: number) => estimateGraphSize(cfg, weights, { maxTokens: b, nCtx: c, nSlots: 1, maxLogitRows: r }).activations };
    const fit = planFit(cfg, residentWeightBytes(file, cpu ? 'cpu' : 'any'), limits, {
      nCtx: settings.engine.contextLength,
      maxSlots: DEFAULT_SLOTS,
      minSlots: 1,
      maxBatch: DEFAULT_MAX_BATCH,
      allLogits: false,
      kvType: settings.engine.kvCacheType,
    });
    if (!fit.ok) throw new ModelCheckError(fit.problems);
    return fit.plan;
  } finally {
    await file.close();
  }
}
