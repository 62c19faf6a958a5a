/**
 * Comparing next-token distributions from two implementations, position by position. `ref` is the
 * yardstick (llama.cpp): its log p of -Infinity (probability underflowed to 0 in float32) are skipped.
 */

export interface PositionStats {
  /** max |Δ log p| over tokens with ref log p > minLogp. */
  maxAbs: number;
  /** mean |Δ log p| over the same tokens. */
  meanAbs: number;
  /** KL(ref ‖ ours) = Σ p_ref (log p_ref − log p_ours), over tokens with p_ref > 0. */
  kl: number;
  /** Same argmax. */
  top1: boolean;
}

export interface CompareStats {
  positions: PositionStats[];
  maxAbs: number;
  meanAbs: number;
  meanKl: number;
  maxKl: number;
  /** Fraction of positions with the same argmax. */
  top1Agreement: number;
}

export function argmaxOf(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

export function comparePosition(ref: ArrayLike<number>, ours: ArrayLike<number>, minLogp = -30): PositionStats {
  if (ref.length !== ours.length) throw new Error(`vocabulary sizes differ: ${ref.length} vs ${ours.length}`);
  let maxAbs = 0;
  let sumAbs = 0;
  let n = 0;
  let kl = 0;
  for (let v = 0; v < ref.length; v++) {
    const a = ref[v]!;
    const b = ours[v]!;
    if (a > minLogp) {
      const d = Math.abs(a - b);
      if (!(d <= maxAbs)) maxAbs = d; // NaN propagates
      sumAbs += d;
      n++;
    }
    if (a > -Infinity) kl += Math.exp(a) * (a - b);
  }
  return { maxAbs, meanAbs: n > 0 ? sumAbs / n : 0, kl, top1: argmaxOf(ref) === argmaxOf(ours) };
}

export function compareRuns(ref: ArrayLike<number>[], ours: ArrayLike<number>[], minLogp = -30): CompareStats {
  if (ref.length !== ours.length) throw new Error(`position counts differ: ${ref.length} vs ${ours.length}`);
  const positions = ref.map((r, i) => comparePosition(r, ours[i]!, minLogp));
  return summarize(positions);
}

export function summarize(positions: PositionStats[]): CompareStats {
  const n = Math.max(1, positions.length);
  let maxAbs = 0;
  let maxKl = 0;
  for (const p of positions) {
    if (!(p.maxAbs <= maxAbs)) maxAbs = p.maxAbs;
    if (!(p.kl <= maxKl)) maxKl = p.kl;
  }
  return {
    positions,
    maxAbs,
    meanAbs: positions.reduce((s, p) => s + p.meanAbs, 0) / n,
    meanKl: positions.reduce((s, p) => s + p.kl, 0) / n,
    maxKl,
    top1Agreement: positions.filter((p) => p.top1).length / n,
  };
}

/** Index of the first differing element, or -1 when equal. */
export function firstDifference(a: readonly number[], b: readonly number[]): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** A compact fixed-width table for test output. */
export function formatTable(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join('  ');
  return [line(header), line(w.map((n) => '-'.repeat(n))), ...rows.map(line)].join('\n');
}

export function fmtE(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toExponential(digits) : String(x);
}
