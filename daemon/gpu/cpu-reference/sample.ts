/**
 * CPU reference of shaders/sample.wgsl: token sampling from one logits row, in llama.cpp's default
 * sampler order top-k → top-p → temperature → draw (llama-sampling.cpp), with the kernel's uniform draw.
 *
 *  - temperature <= 0 or top_k == 1: greedy, argmax (lowest id wins ties).
 *  - top_k == 0 and top_p >= 1: the whole vocabulary, softmax(logits / T), inverse CDF in token id order.
 *  - otherwise: the top_k (0 → 256, at most 256) largest logits sorted descending (ties: lower id first);
 *    top-p keeps the shortest prefix whose probability at temperature 1, renormalised over the top-k set,
 *    reaches top_p (llama_sampler_top_p: cum >= p); then softmax(logit / T) over what is kept, inverse CDF
 *    in that sorted order.
 * The draw u in [0, 1) is the kernel's PCG hash of (seed, sample_index), reproduced bit for bit.
 * With a mask (bit i & 31 of word i >> 5 set = token i allowed) the other tokens count as logit -infinity in
 * every mode: as if they were not in the vocabulary at all (top-k then takes at most the allowed tokens).
 * A NaN or an infinity anywhere in the row (allowed or not) draws nothing: the token is NON_FINITE_LOGITS.
 */
import { allFinite, NON_FINITE_LOGITS } from '../../model/sample-result.js';

export interface SampleParamsRef {
  temperature: number;
  top_k: number;
  top_p: number;
  /** Allowed tokens, as the kernel's bitset; absent: all. */
  mask?: Uint32Array;
}

/** Whether a mask (absent: none) allows token `i`. */
export function maskAllowsRef(mask: Uint32Array | undefined, i: number): boolean {
  return mask === undefined || ((mask[i >>> 5]! >>> (i & 31)) & 1) === 1;
}

/** Candidate tokens most likely first, cut by top-k; at most this many in the top-k path. */
export const SAMPLE_TOP_K_MAX = 256;

function pcg(v: number): number {
  const state = (Math.imul(v >>> 0, 747796405) + 2891336453) >>> 0;
  const word = Math.imul(((state >>> ((state >>> 28) + 4)) ^ state) >>> 0, 277803737) >>> 0;
  return ((word >>> 22) ^ word) >>> 0;
}

/** The kernel's uniform draw for (seed, sample_index): a multiple of 2^-24 in [0, 1). */
export function sampleUniformRef(seed: number, sampleIndex: number): number {
  const h = pcg((pcg((seed ^ 0x9e3779b9) >>> 0) + sampleIndex) >>> 0);
  return (h >>> 8) / 16777216;
}

/** The largest allowed logit's id, lowest id on ties; -1 when the mask allows nothing. */
export function argmaxRef(logits: ArrayLike<number>, mask?: Uint32Array): number {
  let best = -1;
  for (let i = 0; i < logits.length; i++) {
    if (maskAllowsRef(mask, i) && (best < 0 || logits[i]! > logits[best]!)) best = i;
  }
  return best;
}

export function isGreedy(p: SampleParamsRef): boolean {
  return p.temperature <= 0 || p.top_k === 1;
}

/** Allowed ids in id order. */
function allowedIds(logits: ArrayLike<number>, mask: Uint32Array | undefined): number[] {
  const ids: number[] = [];
  for (let i = 0; i < logits.length; i++) if (maskAllowsRef(mask, i)) ids.push(i);
  return ids;
}

/** Allowed ids sorted by logit descending, lower id first among equals. */
function sortedIds(logits: ArrayLike<number>, mask: Uint32Array | undefined): number[] {
  return allowedIds(logits, mask).sort((a, b) => logits[b]! - logits[a]! || a - b);
}

/**
 * The tokens the draw is over, in the order of the inverse CDF, and their probabilities at the
 * temperature (summing to 1). Not for greedy parameters.
 */
export function sampleDistributionRef(logits: ArrayLike<number>, p: SampleParamsRef): { ids: number[]; probs: Float64Array } {
  if (isGreedy(p)) throw new Error('sampleDistributionRef: greedy parameters have no distribution');
  let ids: number[];
  if (p.top_k === 0 && p.top_p >= 1) {
    ids = allowedIds(logits, p.mask);
  } else {
    const k = p.top_k === 0 || p.top_k > SAMPLE_TOP_K_MAX ? SAMPLE_TOP_K_MAX : p.top_k;
    ids = sortedIds(logits, p.mask).slice(0, k);
    if (p.top_p < 1) {
      const mx = logits[ids[0]!]!;
      const e = ids.map((i) => Math.exp(logits[i]! - mx));
      const z = e.reduce((a, b) => a + b, 0);
      let cum = 0;
      for (let j = 0; j < ids.length; j++) {
        cum += e[j]! / z;
        if (cum >= p.top_p) {
          ids = ids.slice(0, j + 1);
          break;
        }
      }
    }
  }
  if (ids.length === 0) throw new RangeError('sampleDistributionRef: the mask allows no token');
  let mx = -Infinity;
  for (const i of ids) mx = Math.max(mx, logits[i]!);
  const probs = Float64Array.from(ids, (i) => Math.exp((logits[i]! - mx) / p.temperature));
  const z = probs.reduce((a, b) => a + b, 0);
  for (let j = 0; j < probs.length; j++) probs[j]! /= z;
  return { ids, probs };
}

export interface SampleRefResult {
  token: number;
  /** Distance of u from the nearest edge of the chosen token's CDF interval (rounding can flip a draw this close). */
  margin: number;
  /** The token on the other side of that nearest edge. */
  neighbour: number;
}

/** The token the draw u in [0, 1) picks. */
export function sampleRef(logits: ArrayLike<number>, p: SampleParamsRef, u: number): SampleRefResult {
  if (!allFinite(logits)) return { token: NON_FINITE_LOGITS, margin: Infinity, neighbour: -1 };
  if (isGreedy(p)) return { token: argmaxRef(logits, p.mask), margin: Infinity, neighbour: -1 };
  const { ids, probs } = sampleDistributionRef(logits, p);
  let lo = 0;
  for (let j = 0; j < ids.length; j++) {
    const hi = lo + probs[j]!;
    if (u < hi || j === ids.length - 1) {
      const below = u - lo;
      const above = hi - u;
      return below <= above
        ? { token: ids[j]!, margin: below, neighbour: j > 0 ? ids[j - 1]! : -1 }
        : { token: ids[j]!, margin: above, neighbour: j + 1 < ids.length ? ids[j + 1]! : -1 };
    }
    lo = hi;
  }
  throw new Error('unreachable');
}
