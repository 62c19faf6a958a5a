/**
 * Sampling one token from a logits row on the host, with exactly the semantics of the GPU sampler
 * (shaders/sample.wgsl; its reference gpu/cpu-reference/sample.ts): greedy (lowest id on ties), the whole
 * vocabulary at top-k 0 / top-p 1, else the top-k (0 → 256, at most 256) sorted by logit then id, cut by
 * top-p at temperature 1, softmax at the temperature, and the inverse CDF at the draw u. The top-k is
 * selected in one pass (no full sort), so a 150k vocabulary costs well under a millisecond.
 */
import type { SamplingParams } from './backend.js';
import { NonFiniteLogitsError } from './sample-result.js';
import { checkMask } from './sample-mask.js';

export const TOP_K_MAX = 256;


const allowed = (mask: Uint32Array | undefined, i: number) => mask === undefined || ((mask[i >>> 5]! >>> (i & 31)) & 1) === 1;

function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The GPU sampler's uniform draw for (seed, sample_index): a multiple of 2^-24 in [0, 1). */
export function uniformDraw(seed: number, sampleIndex: number): number {
  const h = pcg((pcg((seed ^ 0x9e3779b9) >>> 0) + sampleIndex) >>> 0);
  return (h >>> 8) / 16777216;
}

/** Ids of the `k` largest allowed logits, sorted by logit descending then id ascending. */
function topK(logits: ArrayLike<number>, k: number, mask: Uint32Array | undefined): number[] {
  const ids: number[] = [];
  const before = (a: number, b: number) => logits[a]! > logits[b]! || (logits[a] === logits[b] && a < b);
  for (let i = 0; i < logits.length; i++) {
    if (!allowed(mask, i)) continue;
    if (ids.length === k && !before(i, ids[k - 1]!)) continue;
    let lo = 0;
    let hi = ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (before(ids[mid]!, i)) lo = mid + 1;
      else hi = mid;
    }
    ids.splice(lo, 0, i);
    if (ids.length > k) ids.pop();
  }
  return ids;
}

export function sampleLogits(logits: Float32Array, p: SamplingParams, u: number): number {
  if (p.mask) checkMask(p.mask, logits.length);
  for (let i = 0; i < logits.length; i++) {
    if (Number.isNaN(logits[i]!) || logits[i] === Infinity) throw new NonFiniteLogitsError(`(${logits[i]} for token ${i})`);
  }
  if (p.temperature <= 0 || p.topK === 1) {
    let best = -1;
    for (let i = 0; i < logits.length; i++) if (allowed(p.mask, i) && (best < 0 || logits[i]! > logits[best]!)) best = i;
    if (best < 0) throw new RangeError('token mask allows no token');
    return best;
  }
  let ids: number[];
  if (p.topK === 0 && p.topP >= 1) {
    ids = [];
    for (let i = 0; i < logits.length; i++) if (allowed(p.mask, i)) ids.push(i);
  } else {
    ids = topK(logits, p.topK === 0 || p.topK > TOP_K_MAX ? TOP_K_MAX : p.topK, p.mask);
    if (p.topP < 1 && ids.length) {
      const mx = logits[ids[0]!]!;
      const e = ids.map((i) => Math.exp(logits[i]! - mx));
      const z = e.reduce((a, b) => a + b, 0);
      let cum = 0;
      for (let j = 0; j < ids.length; j++) {
        cum += e[j]! / z;
        if (cum >= p.topP) {
          ids = ids.slice(0, j + 1);
          break;
        }
      }
    }
  }
  if (ids.length === 0) throw new RangeError('token mask allows no token');
  let mx = -Infinity;
  for (const i of ids) mx = Math.max(mx, logits[i]!);
  const probs = ids.map((i) => Math.exp((logits[i]! - mx) / p.temperature));
  const z = probs.reduce((a, b) => a + b, 0);
  let lo = 0;
  for (let j = 0; j < ids.length; j++) {
    lo += probs[j]! / z;
    if (u < lo) return ids[j]!;
  }
  return ids[ids.length - 1]!;
}
