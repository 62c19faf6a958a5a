/**
 * Greedy continuations of two implementations can part ways legitimately where llama.cpp's top two
 * candidates are closer than the numerical difference between the implementations. This explains a
 * divergence: it re-evaluates the shared prefix and reports the top-2 gap and |Δ log p| at that step.
 */
import { oracleRun, type OracleOptions } from './llama-oracle.js';
import { argmaxOf, comparePosition, firstDifference } from './logprob-compare.js';

export interface GreedyVerdict {
  /** First differing index, -1 when the sequences are equal. */
  index: number;
  /** llama.cpp's log p(top1) − log p(top2) at the diverging step. */
  gap: number;
  /** max |Δ log p| between the two at that step. */
  delta: number;
  /** The divergence is a near tie: our pick is llama.cpp's second choice and gap ≤ 2·delta. */
  tie: boolean;
}

/**
 * `evalOurs(tokens)` returns our log-softmax for every position of `tokens` (a fresh evaluation).
 */
export async function judgeGreedy(
  modelPath: string,
  prompt: number[],
  theirs: number[],
  ours: number[],
  evalOurs: (tokens: number[]) => Promise<ArrayLike<number>[]> | ArrayLike<number>[],
  oracle: OracleOptions = {},
): Promise<GreedyVerdict> {
  const index = firstDifference(theirs, ours);
  if (index < 0) return { index, gap: Infinity, delta: 0, tie: false };
  const prefix = [...prompt, ...theirs.slice(0, index)];
  const { logprobs } = await oracleRun(modelPath, prefix, 0, oracle);
  const mine = await evalOurs(prefix);
  const ref = logprobs[prefix.length - 1]!;
  const us = mine[prefix.length - 1]!;
  const top1 = argmaxOf(ref);
  let top2 = top1 === 0 ? 1 : 0;
  for (let v = 0; v < ref.length; v++) if (v !== top1 && ref[v]! > ref[top2]!) top2 = v;
  const gap = ref[top1]! - ref[top2]!;
  const delta = comparePosition(ref, us).maxAbs;
  return { index, gap, delta, tie: argmaxOf(us) === top2 && gap <= 2 * delta };
}
