/**
 * How the CPU backend splits a model across its ranks (worker threads, each with its own WebAssembly
 * memory): tensor parallelism, so each rank reads only its share of the weights every step.
 *
 *   attention  query heads split in units that keep the output projection's column slices whole blocks;
 *              each rank holds the kv heads its query heads read (shared kv heads are duplicated);
 *              q/k/v rows and KV cache follow the heads; attn_output is split by columns → partial sums
 *   FFN        the intermediate width split in whole blocks of ffn_down's type: gate/up by rows, down by
 *              columns → partial sums (dense FFN, each expert, the shared expert alike)
 *   vocab      token_embd and output split by rows (vocabulary ranges)
 *   router     (ffn_gate_inp, ffn_gate_inp_shexp) replicated on every rank
 *   olmoe      (q/k RMS norm over the whole vector) q and k projections replicated
 * Partial sums are added across ranks where a non-linear op needs the whole value (cpu-graph.ts).
 */
import { formatOf } from '../formats/table.js';
import type { ModelConfig } from '../model/hparams.js';
import type { ModelWeights } from '../model/model-weights.js';
import type { WeightHandle } from '../model/weights.js';

/** [start, end) */
export interface Range {
  start: number;
  end: number;
}

export const rangeLen = (r: Range) => r.end - r.start;

export interface RankPlan {
  rank: number;
  /** Global query heads this rank attends with. */
  qHeads: Range;
  /** Global kv heads this rank keeps in its cache (those its query heads read). */
  kvHeads: Range;
  /** Vocabulary rows of token_embd / output. */
  vocab: Range;
}

export interface PartitionPlan {
  nRanks: number;
  ranks: RankPlan[];
  /** Whether q/k projections are replicated (q/k norms over the whole vector). */
  fullQk: boolean;
}

/** `n` units split as evenly as possible over `parts`: part p gets [floor(p·n/parts), floor((p+1)·n/parts)). */
export function splitEven(n: number, parts: number, p: number): Range {
  return { start: Math.floor((p * n) / parts), end: Math.floor(((p + 1) * n) / parts) };
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Values per block of a weight's type (1 for F32/F16). */
export function blockSizeOf(w: WeightHandle): number {
  return formatOf(w.type)?.blockSize ?? 1;
}

export function planPartition(cfg: ModelConfig, weights: ModelWeights, nRanks: number): PartitionPlan {
  const nHead = cfg.n_head;
  const group = nHead / cfg.n_head_kv;
  // heads per unit: the output projection's columns of a unit must be whole blocks
  let unit = 1;
  for (const l of weights.layers) {
    const bs = blockSizeOf(l.wo);
    const perHead = cfg.n_embd_head_v;
    unit = Math.max(unit, bs / gcd(bs, perHead));
  }
  if (nHead % unit) unit = nHead; // cannot split: one rank attends, the others wait
  // prefer whole kv groups per rank when there are enough of them
  const groupUnit = (unit * group) / gcd(unit, group);
  const useUnit = nHead % groupUnit === 0 && nHead / groupUnit >= nRanks ? groupUnit : unit;
  const units = nHead / useUnit;
  const ranks: RankPlan[] = [];
  for (let r = 0; r < nRanks; r++) {
    const u = splitEven(units, nRanks, r);
    const qHeads = { start: u.start * useUnit, end: u.end * useUnit };
    const kvHeads = qHeads.end > qHeads.start ? { start: Math.floor(qHeads.start / group), end: Math.ceil(qHeads.end / group) } : { start: 0, end: 0 };
    ranks.push({ rank: r, qHeads, kvHeads, vocab: splitEven(cfg.n_vocab, nRanks, r) });
  }
  return { nRanks, ranks, fullQk: cfg.qk_norm === 'full' };
}

/** Columns [start, end) of an FFN intermediate of `width` this rank holds, in whole blocks of `blockSize`. */
export function ffRange(width: number, blockSize: number, nRanks: number, rank: number): Range {
  const units = Math.floor(width / blockSize);
  const u = splitEven(units, nRanks, rank);
  return { start: u.start * blockSize, end: u.end * blockSize };
}

/** The role of a weight in the split, from its GGUF tensor name. */
export type WeightRole = 'q' | 'k' | 'v' | 'o' | 'ff_in' | 'ff_out' | 'replicated' | 'vocab';

export function weightRole(w: WeightHandle): WeightRole {
  const n = w.tensor;
  if (n === 'token_embd.weight' || n === 'output.weight') return 'vocab';
  if (/\.attn_q\.weight$/.test(n)) return 'q';
  if (/\.attn_k\.weight$/.test(n)) return 'k';
  if (/\.attn_v\.weight$/.test(n)) return 'v';
  if (/\.attn_output\.weight$/.test(n)) return 'o';
  if (/\.ffn_gate_inp(_shexp)?\.weight$/.test(n)) return 'replicated';
  // dense, merged experts, shared expert, or one expert's own tensor (old Mixtral files: ffn_up.3.weight)
  if (/\.ffn_(gate|up)(_exps|_shexp|\.\d+)?\.weight$/.test(n)) return 'ff_in';
  if (/\.ffn_down(_exps|_shexp|\.\d+)?\.weight$/.test(n)) return 'ff_out';
  throw new Error(`the CPU backend does not know how to split ${n}`);
}

/** The FFN a gate/up/down weight belongs to: its down matrix fixes the intermediate split. */
export function ffnKey(w: WeightHandle): string {
  return w.tensor.replace(/\.ffn_(gate|up|down)(_exps|_shexp|\.\d+)?\.weight$/, '.ffn$2');
}

/** A rank's slice of a weight matrix: rows [rows.start, rows.end) and columns [cols.start, cols.end). */
export interface WeightSlice {
  rows: Range;
  cols: Range;
}

/**
 * The slice of `w` rank `rank` holds. `down` is the down matrix of w's FFN (for ff_in/ff_out roles):
 * its type fixes the split of the intermediate width.
 */
export function sliceOf(w: WeightHandle, role: WeightRole, cfg: ModelConfig, plan: PartitionPlan, rank: number, down?: WeightHandle): WeightSlice {
  const all = (n: number): Range => ({ start: 0, end: n });
  const rp = plan.ranks[rank]!;
  const hk = cfg.n_embd_head_k;
  const hv = cfg.n_embd_head_v;
  switch (role) {
    case 'q':
      return { rows: plan.fullQk ? all(w.rows) : { start: rp.qHeads.start * hk, end: rp.qHeads.end * hk }, cols: all(w.cols) };
    case 'k':
      return { rows: plan.fullQk ? all(w.rows) : { start: rp.kvHeads.start * hk, end: rp.kvHeads.end * hk }, cols: all(w.cols) };
    case 'v':
      return { rows: { start: rp.kvHeads.start * hv, end: rp.kvHeads.end * hv }, cols: all(w.cols) };
    case 'o':
      return { rows: all(w.rows), cols: { start: rp.qHeads.start * hv, end: rp.qHeads.end * hv } };
    case 'ff_in': {
      const d = down ?? w;
      return { rows: ffRange(w.rows, blockSizeOf(d), plan.nRanks, rank), cols: all(w.cols) };
    }
    case 'ff_out':
      return { rows: all(w.rows), cols: ffRange(w.cols, blockSizeOf(w), plan.nRanks, rank) };
    case 'replicated':
      return { rows: all(w.rows), cols: all(w.cols) };
    case 'vocab':
      return { rows: rp.vocab, cols: all(w.cols) };
  }
}
