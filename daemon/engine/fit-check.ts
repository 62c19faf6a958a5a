/**
 * The last gate before a backend allocates anything: the model checked for the backend that will run it
 * (its kernels decide which tensor types run) and planned under that backend's limits and the memory
 * budget (model/fit-plan.ts). Every problem found is thrown at once, as one ModelCheckError.
 */
import type { GgufFile } from '../gguf/gguf-reader.js';
import type { Gpu } from '../gpu/device.js';
import { DEFAULT_MAX_BATCH, type FitPlan, type KvType } from '../model/fit-plan.js';
import { memoryBudget } from '../model/memory-budget.js';
import { checkFit, checkModel, type ModelCheck } from '../model/model-check.js';
import { residentWeightBytes } from '../model/memory-plan.js';
import { ModelCheckError } from '../model/model-problems.js';
import { cpuLimits, gpuLimits } from './backend-limits.js';

/** The context a library caller gets without asking (0 would mean automatic). */
export const DEFAULT_CTX = 4096;

export interface FitOptions {
  /** Context length per slot; 0: the longest that fits (at most the training context); absent: min(4096, training context). */
  nCtx?: number;
  /** KV slots wanted (default 1). */
  nSlots?: number;
  /** Fewest slots acceptable when nSlots do not fit (default nSlots: exactly that many). */
  minSlots?: number;
  maxBatch?: number;
  allLogits?: boolean;
  /** KV cache element type (default f16, as llama.cpp). */
  kvType?: KvType;
  /** Memory budget in bytes; 0 or absent: automatic (model/memory-budget.ts). */
  memoryBudget?: number;
  /** What sets the budget, for messages (default "moecode.gpu.memoryBudget"). */
  budgetKnob?: string;
  /** CPU backend threads (0: physical cores). */
  threads?: number;
}

export type RunningOn = { kind: 'gpu'; gpu: Gpu } | { kind: 'cpu' };

/** Checks `file` (already checked without a backend in `structural`) for `on` and plans it; throws every problem. */
export function fitForBackend(file: GgufFile, structural: ModelCheck, on: RunningOn, opts: FitOptions): FitPlan {
  const check = checkModel(file, { backend: on.kind, tokenizer: false });
  const problems = [...check.problems];
  const budget = memoryBudget(Math.max(0, opts.memoryBudget ?? 0), opts.budgetKnob ?? 'moecode.gpu.memoryBudget', structural.weightBytes);
  const cfg = structural.config!;
  const limits = on.kind === 'gpu' ? gpuLimits(on.gpu, budget, { cfg, weights: structural.weights! }) : cpuLimits(cfg, structural.weights!, structural.weightBytes, opts.threads, budget);
  // on the GPU, routed experts beyond the budget live in host memory (model/placement.ts): the non-expert
  // part must fit; the CPU backend holds every weight
  const resident = { ...structural, weightBytes: residentWeightBytes(file, on.kind) };
  const nSlots = Math.max(1, Math.floor(opts.nSlots ?? 1));
  const fit = checkFit(resident, limits, {
    nCtx: opts.nCtx ?? Math.min(DEFAULT_CTX, cfg.n_ctx_train || DEFAULT_CTX),
    maxSlots: nSlots,
    minSlots: Math.max(1, Math.min(nSlots, Math.floor(opts.minSlots ?? nSlots))),
    maxBatch: opts.maxBatch ?? DEFAULT_MAX_BATCH,
    allLogits: Boolean(opts.allLogits),
    kvType: opts.kvType ?? 'f16',
  });
  if (fit && !fit.ok) problems.push(...fit.problems);
  if (problems.length > 0 || !fit?.ok) throw new ModelCheckError(problems);
  return fit.plan;
}
