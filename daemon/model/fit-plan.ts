/**
 * Does a model fit, and with how many KV slots of how long a context? Decided from the header alone,
 * before anything is allocated: weights + KV cache (slots × context) + activations against the memory
 * budget, and against the backend's own limits — on the GPU one layer's KV cache must fit one storage
 * binding (weights are row-sharded, the cache is not); on the CPU each rank's WebAssembly memory
 * (weights share + its KV heads + activations) must stay under 4 GiB. Pure arithmetic: no Node-only
 * modules, so model discovery can run the same check.
 *
 * Choice (the context is per slot: every slot holds a whole context):
 *  - a context asked for (> 0, at most the training context): the most slots in [minSlots, maxSlots]
 *    that fit, else a fit problem saying how far to lower the context or raise the budget;
 *  - automatic (0): every slot wanted at the training context if they fit; else the longest context
 *    (a multiple of 256) for two slots if it reaches MIN_AUTO_CTX, else for one slot if it reaches
 *    MIN_USABLE_CTX (each capped at the training context); else a fit problem.
 */
import type { ModelConfig } from './hparams.js';
import { activationBytes, kvCacheBytes, kvElementBytes, type KvType } from './memory-plan.js';
import type { FitAdvice, ModelProblem } from './model-problems.js';

export type { KvType } from './memory-plan.js';

/** What limits a model's memory on the backend that will run it. */
export interface BackendLimits {
  kind: 'gpu' | 'cpu' | 'any';
  budget: MemoryBudget;
  /** GPU: the largest storage buffer one layer's KV cache (or one activation) may use. */
  maxBufferBytes?: number;
  /** CPU backend: its ranks, and the KV heads they keep (shared KV heads are kept by every rank that reads them). */
  cpu?: { nRanks: number; kvHeadsMaxPerRank: number; kvHeadsTotal: number; maxRankBytes: number };
  /** The backend's own estimate of its activations and scratch (else memory-plan.ts activationBytes, a generic bound). */
  activationBytes?: (maxBatch: number, nCtx: number, logitRows: number) => number;
}

/** Bytes weights + KV cache + activations may take, and where that number comes from. */
export interface MemoryBudget {
  bytes: number;
  /** Set by the user (the setting or flag) rather than derived from the machine. */
  explicit: boolean;
  /** What sets it: "moecode.gpu.memoryBudget" (daemon) or "--gpu-budget" (command line). */
  knob: string;
  /** For messages: the knob, or how the automatic budget was derived ("75% of the host's free memory, …"). */
  source: string;
}

export interface FitRequest {
  /** Context length per slot; 0: automatic (the longest that fits, at most the training context). */
  nCtx: number;
  /** Slots wanted; the plan may give fewer, down to minSlots. */
  maxSlots: number;
  minSlots: number;
  /** Largest prefill chunk. */
  maxBatch: number;
  /** Logits for every position of a chunk (eval) instead of the last. */
  allLogits: boolean;
  kvType: KvType;
}

export interface FitPlan {
  nCtx: number;
  nSlots: number;
  maxBatch: number;
  kvType: KvType;
  weightsBytes: number;
  kvBytes: number;
  activationBytes: number;
  totalBytes: number;
  budget: MemoryBudget;
  /** What was changed from the request, for logs ("the context is capped at the training context 4096"). */
  notes: string[];
}

export type FitResult = { ok: true; plan: FitPlan } | { ok: false; problems: ModelProblem[] };

/** Automatic contexts are multiples of this, and at least MIN_AUTO_CTX (or the training context, if shorter). */
export const CTX_STEP = 256;
export const MIN_AUTO_CTX = 1024;
/** Below this an automatic context is refused rather than planned. */
export const MIN_USABLE_CTX = 256;
/** KV slots the daemon wants (documents kept warm, plus chat); fewer when they do not fit, down to one. */
export const DEFAULT_SLOTS = 4;
/** Largest prefill chunk. */
export const DEFAULT_MAX_BATCH = 256;
/** The shortest context a load may ask for. */
export const MIN_CTX = 16;
/** Context assumed when a file does not say (context_length 0). */
const DEFAULT_TRAIN_CTX = 4096;

const MiB = 1024 * 1024;
const mb = (n: number) => `${Math.ceil(n / MiB)} MB`;

interface Sizes {
  kv: number;
  act: number;
  total: number;
  /** One layer's K (or V, whichever is larger) cache, GPU. */
  kvLayerBuffer: number;
  /** The busiest CPU rank's memory. */
  rank: number;
}

export function planFit(cfg: ModelConfig, weightsBytes: number, limits: BackendLimits, req: FitRequest): FitResult {
  const el = kvElementBytes(req.kvType);
  const ctxTrain = cfg.n_ctx_train > 0 ? cfg.n_ctx_train : DEFAULT_TRAIN_CTX;
  const notes: string[] = [];
  let maxBatch = Math.max(1, req.maxBatch);
  // the logits of a whole chunk are one GPU buffer: a chunk longer than it allows is cut
  if (limits.maxBufferBytes && req.allLogits) {
    const rows = Math.floor(limits.maxBufferBytes / (cfg.n_vocab * 4));
    if (rows < 1) return { ok: false, problems: [bufferProblem(`one row of logits (${mb(cfg.n_vocab * 4)})`, limits.maxBufferBytes)] };
    if (rows < maxBatch) {
      notes.push(`prompt chunks of at most ${rows} tokens: the logits of a longer chunk exceed one GPU buffer`);
      maxBatch = rows;
    }
  }
  const cpuKvShare = limits.cpu ? limits.cpu.kvHeadsTotal / cfg.n_head_kv : 1;
  const sizes = (slots: number, nCtx: number): Sizes => {
    const batch = Math.min(maxBatch, nCtx);
    const kv = kvCacheBytes(cfg.n_layer, slots, nCtx, cfg.n_head_kv * cfg.n_embd_head_k, cfg.n_head_kv * cfg.n_embd_head_v, el) * cpuKvShare;
    const act = (limits.activationBytes ?? ((b, c, r) => activationBytes(cfg, b, c, r)))(batch, nCtx, req.allLogits ? batch : 1);
    const kvLayerBuffer = slots * nCtx * cfg.n_head_kv * Math.max(cfg.n_embd_head_k, cfg.n_embd_head_v) * el;
    let rank = 0;
    if (limits.cpu) {
      const c = limits.cpu;
      const kvRank = cfg.n_layer * slots * nCtx * c.kvHeadsMaxPerRank * (cfg.n_embd_head_k + cfg.n_embd_head_v) * el;
      rank = weightsBytes / c.nRanks + kvRank + act / c.nRanks;
    }
    return { kv, act, total: weightsBytes + kv + act, kvLayerBuffer, rank };
  };
  const fits = (slots: number, nCtx: number): boolean => exceeded(sizes(slots, nCtx), limits) === undefined;
  /** The longest context (≤ cap, a multiple of `step` when ≥ step) that fits with `slots`, or 0. */
  const longest = (slots: number, cap: number, step: number): number => {
    if (!fits(slots, Math.min(MIN_CTX, cap))) return 0;
    if (fits(slots, cap)) return cap;
    let lo = Math.min(MIN_CTX, cap);
    let hi = cap;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (fits(slots, mid)) lo = mid;
      else hi = mid;
    }
    return lo >= step ? lo - (lo % step) : lo;
  };
  const planOf = (slots: number, nCtx: number): FitResult => {
    const s = sizes(slots, nCtx);
    return {
      ok: true,
      plan: {
        nCtx,
        nSlots: slots,
        maxBatch: Math.min(maxBatch, nCtx),
        kvType: req.kvType,
        weightsBytes,
        kvBytes: s.kv,
        activationBytes: s.act,
        totalBytes: s.total,
        budget: limits.budget,
        notes,
      },
    };
  };
  const maxSlots = Math.max(1, req.maxSlots);
  const minSlots = Math.max(1, Math.min(req.minSlots, maxSlots));

  if (req.nCtx > 0) {
    let nCtx = Math.max(MIN_CTX, Math.floor(req.nCtx));
    if (nCtx > ctxTrain) {
      notes.push(`the context is capped at the model's training context, ${ctxTrain} tokens (${nCtx} asked)`);
      nCtx = ctxTrain;
    }
    for (let slots = maxSlots; slots >= minSlots; slots--) if (fits(slots, nCtx)) return planOf(slots, nCtx);
    return { ok: false, problems: [fitProblem(weightsBytes, limits, sizes, minSlots, nCtx, req.nCtx, longest(minSlots, nCtx, 1), el)] };
  }

  for (let slots = maxSlots; slots >= Math.max(2, minSlots); slots--) if (fits(slots, ctxTrain)) return planOf(slots, ctxTrain);
  for (let slots = Math.min(2, maxSlots); slots >= minSlots; slots--) {
    const nCtx = longest(slots, ctxTrain, CTX_STEP);
    if (nCtx >= Math.min(slots > 1 ? MIN_AUTO_CTX : MIN_USABLE_CTX, ctxTrain)) return planOf(slots, nCtx);
  }
  const floor = Math.min(MIN_USABLE_CTX, ctxTrain);
  return { ok: false, problems: [fitProblem(weightsBytes, limits, sizes, minSlots, floor, 0, longest(minSlots, ctxTrain, 1), el)] };
}

/** Which limit a plan of these sizes exceeds, if any. */
function exceeded(s: Sizes, limits: BackendLimits): FitAdvice['limit'] | undefined {
  if (limits.maxBufferBytes && s.kvLayerBuffer > limits.maxBufferBytes) return 'gpu-buffer';
  if (limits.cpu && s.rank > limits.cpu.maxRankBytes) return 'wasm-memory';
  if (s.total > limits.budget.bytes) return 'budget';
  return undefined;
}

function bufferProblem(what: string, limit: number): ModelProblem {
  return {
    kind: 'fit',
    code: 'DOES_NOT_FIT',
    message: `${what} exceeds the GPU's largest buffer (${mb(limit)})`,
    fit: { needBytes: 0, limitBytes: limit, limit: 'gpu-buffer', maxContext: 0, slots: 1, requestedContext: 0 },
  };
}

/** The problem of the smallest plan allowed (minSlots × nCtx), with what to lower and by how much. */
function fitProblem(
  weightsBytes: number,
  limits: BackendLimits,
  sizes: (slots: number, nCtx: number) => Sizes,
  slots: number,
  nCtx: number,
  requested: number,
  maxContext: number,
  el: number,
): ModelProblem {
  const s = sizes(slots, nCtx);
  const limit = exceeded(s, limits) ?? 'budget';
  const plan = `${slots} slot${slots === 1 ? '' : 's'} × ${nCtx} tokens`;
  const lower =
    maxContext >= MIN_CTX
      ? `lower the context to at most ${maxContext} tokens per slot (moecode.engine.contextLength, --ctx)${slots > 1 ? ' or use fewer slots' : ''}`
      : '';
  const f16 = el === 4 ? ' or keep the KV cache in f16 (moecode.engine.kvCacheType, --kv-type)' : '';
  let message: string;
  let need: number;
  let limitBytes: number;
  switch (limit) {
    case 'gpu-buffer': {
      need = s.kvLayerBuffer;
      limitBytes = limits.maxBufferBytes!;
      message = `one layer's KV cache for ${plan} needs ${mb(need)}, more than the GPU's largest buffer (${mb(limitBytes)}): ${lower || 'use fewer slots'}${f16}`;
      break;
    }
    case 'wasm-memory': {
      need = s.rank;
      limitBytes = limits.cpu!.maxRankBytes;
      message =
        `the CPU backend's busiest memory (weights share, KV heads and activations of one rank, ${plan}) needs ${mb(need)}, more than a WebAssembly memory's ${mb(limitBytes)}: ` +
        `${lower || 'use a smaller model'}${f16}`;
      break;
    }
    default: {
      const b = limits.budget;
      need = s.total;
      limitBytes = b.bytes;
      const budget = b.explicit ? `${b.knob} is ${+(limitBytes / MiB).toFixed(1)} MB` : `the memory budget is ${mb(limitBytes)} (${b.source})`;
      const raise = b.explicit ? `raise ${b.knob} by at least ${mb(need - limitBytes)}` : `free memory or set ${b.knob} to at least ${mb(need)}`;
      const weightsAlone = weightsBytes + sizes(1, MIN_CTX).act > limitBytes;
      message =
        `the model needs about ${mb(need)} (weights ${mb(weightsBytes)}, KV cache ${mb(s.kv)} for ${plan}, activations ${mb(s.act)}) but ${budget}: ` +
        (weightsAlone ? `the weights alone do not fit; ${raise}, or use a smaller model or quantisation` : `${lower ? `${lower}, or ` : ''}${raise}${f16}`);
    }
  }
  return { kind: 'fit', code: 'DOES_NOT_FIT', message, fit: { needBytes: need, limitBytes, limit, budgetSource: limits.budget.source, maxContext, slots, requestedContext: requested } };
}
