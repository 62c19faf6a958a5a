/**
 * The conformance interface: full next-token log-softmax after every position of a token sequence, then
 * N greedy tokens continued from its end. `moecode eval` prints this as JSON; keep its shape stable.
 */
import type { BackendChoice } from '../engine/backend-choice.js';
import { Model } from '../engine/model.js';
import { allFinite, NonFiniteLogitsError } from '../model/sample-result.js';
import type { CachePolicyOptions } from '../model/expert-cache-policy.js';
import type { OffloadReport } from '../model/offload-stats.js';

export interface EvalResult {
  /** logprobs[i][t] = log p(token t | tokens[0..i]) */
  logprobs: Float32Array[];
  greedy: number[];
  /** Weight matrices that were split into row shards (> 0 when maxBindingBytes forced the shard path). */
  shardedMatrices: number;
}

export interface EvalOptions {
  /** Force a smaller binding limit so large tensors are split into row shards (GPU). */
  maxBindingBytes?: number;
  maxBatch?: number;
  /** Which backend (default: MOECODE_BACKEND, else auto). */
  backend?: BackendChoice;
  /** CPU backend threads (default: physical cores). */
  threads?: number;
  /** KV cache type (CPU backend; default f32 here, the tightest comparison with llama.cpp). */
  kvType?: 'f16' | 'f32';
  /** GPU memory budget in bytes (GPU backend: experts beyond it live on the host). */
  gpuBudgetBytes?: number;
  /** Instead of gpuBudgetBytes: the non-expert part plus this share (0..1) of the experts on the GPU. */
  expertShare?: number;
  hostCacheBytes?: number;
  expertPolicy?: Partial<CachePolicyOptions>;
  /** Receives the expert placement and cache counters before the model is unloaded (when some experts are off the GPU). */
  onOffloadReport?: (r: OffloadReport) => void;
}

export function logSoftmax(logits: Float32Array): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) if (logits[i] > max) max = logits[i];
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp(logits[i] - max);
  const lse = max + Math.log(sum);
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = logits[i] - lse;
  return out;
}

function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i] > v[best]) best = i;
  return best;
}

export async function evalModel(modelPath: string, tokens: number[], nGreedy: number, opts: EvalOptions = {}): Promise<EvalResult> {
  if (tokens.length === 0) throw new Error('eval needs at least one token');
  const model = await Model.load(modelPath, {
    allLogits: true,
    nCtx: Math.max(tokens.length + nGreedy + 1, 64),
    maxBatch: opts.maxBatch,
    backend: opts.backend,
    threads: opts.threads,
    kvType: opts.kvType ?? 'f32',
    gpuOptions: { maxBindingBytes: opts.maxBindingBytes },
    gpuBudgetBytes: opts.gpuBudgetBytes,
    expertShare: opts.expertShare,
    hostCacheBytes: opts.hostCacheBytes,
    expertPolicy: opts.expertPolicy,
  });
  try {
    const rows = await model.feedAndReadLogits(0, 0, tokens);
    const bad = rows.findIndex((row) => !allFinite(row));
    if (bad >= 0) throw new NonFiniteLogitsError(`after token ${bad} of the input`);
    const logprobs = rows.map(logSoftmax);
    const greedy: number[] = [];
    if (nGreedy > 0) {
      let next = argmax(rows[rows.length - 1]);
      let pos = tokens.length;
      greedy.push(next);
      while (greedy.length < nGreedy) {
        next = await model.feedAndSample(0, pos, [next], { temperature: 0, topK: 1, topP: 1, seed: 0 }, pos);
        pos++;
        greedy.push(next);
      }
    }
    const offload = model.offload;
    if (offload) opts.onOffloadReport?.(offload);
    return { logprobs, greedy, shardedMatrices: model.memory.shardedMatrices ?? 0 };
  } finally {
    await model.dispose();
  }
}
