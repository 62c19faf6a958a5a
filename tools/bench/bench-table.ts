/**
 * The benchmark's side-by-side table: one line per engine, weight type and workload; after each pair of
 * lines with the same workload, the ratio ours/reference.
 */
import type { BenchResult, RunResult } from './bench-common.js';

export interface BenchRow {
  type: string;
  results: Partial<Record<string, BenchResult | Error>>;
}

const COLUMNS = ['type', 'engine', 'prompt', 'decode', 'load s', 'prefill tok/s', 'decode tok/s', 'TTFT ms', 'peak RSS MiB', 'device'] as const;

function fmt(n: number, digits: number): string {
  return Number.isFinite(n) ? n.toFixed(digits) : '-';
}

/** Rates below 10 get more digits (SwiftShader figures are fractions of a token per second). */
function rate(n: number): string {
  return fmt(n, n < 1 ? 3 : n < 10 ? 2 : 1);
}

function ratio(a: number, b: number): string {
  if (!(b > 0) || !Number.isFinite(a)) return '-';
  const r = a / b;
  return r >= 0.1 ? `${r.toFixed(2)}x` : `${r.toPrecision(2)}x`;
}

function line(type: string, engine: string, r: BenchResult, run: RunResult): string[] {
  return [
    type,
    engine,
    String(run.promptTokens),
    String(run.decodeTokens),
    fmt(r.loadMs / 1000, 1),
    rate(run.prefillTokPerS),
    rate(run.decodeTokPerS),
    fmt(run.ttftMs, 0),
    fmt(r.peakRssBytes / 2 ** 20, 0),
    r.device,
  ];
}

/**
 * Each engine but `ref` is compared with `ref` on the same workload: its line, ref's line, then the
 * ratio line. tok/s: higher is better, a ratio below 1 means slower; load, TTFT and RSS: lower is
 * better, a ratio above 1 means more.
 */
export function formatBenchTable(header: string[], rows: BenchRow[], engines: readonly string[], ref: string): string {
  const lines: string[][] = [];
  const ours = engines.filter((e) => e !== ref);
  for (const row of rows) {
    for (const engine of engines) {
      const r = row.results[engine];
      if (r instanceof Error) lines.push([row.type, engine, '', '', 'failed', '', '', '', '', r.message.split('\n')[0]!.slice(0, 80)]);
    }
    const b = row.results[ref];
    const bRuns = b && !(b instanceof Error) ? b.runs : [];
    const shown = new Set<RunResult>();
    for (const engine of ours) {
      const a = row.results[engine];
      if (!a || a instanceof Error) continue;
      for (const run of a.runs) {
        lines.push(line(row.type, engine, a, run));
        const match = bRuns.find((x) => x.promptTokens === run.promptTokens && x.decodeTokens === run.decodeTokens);
        if (!match) continue;
        const rb = b as BenchResult;
        lines.push(line(row.type, ref, rb, match));
        shown.add(match);
        lines.push([
          row.type,
          `  ${engine}/${ref}`,
          '',
          '',
          ratio(a.loadMs, rb.loadMs),
          ratio(run.prefillTokPerS, match.prefillTokPerS),
          ratio(run.decodeTokPerS, match.decodeTokPerS),
          ratio(run.ttftMs, match.ttftMs),
          ratio(a.peakRssBytes, rb.peakRssBytes),
          '',
        ]);
      }
    }
    for (const run of bRuns) if (!shown.has(run)) lines.push(line(row.type, ref, b as BenchResult, run));
  }
  const all = [[...COLUMNS], ...lines];
  const widths = COLUMNS.map((_, c) => Math.max(...all.map((l) => l[c].length)));
  const left = (c: number) => c <= 1 || c === COLUMNS.length - 1;
  const render = (l: string[]) =>
    l
      .map((cell, c) => (left(c) ? cell.padEnd(widths[c]) : cell.padStart(widths[c])))
      .join('  ')
      .trimEnd();
  const rule = widths.map((w) => '-'.repeat(w)).join('  ');
  return [
    ...header,
    '',
    render(all[0]),
    rule,
    ...lines.map(render),
    '',
    `ratios are ours/${ref} on the same workload: tok/s below 1x = slower; load, TTFT, RSS above 1x = more`,
  ].join('\n');
}
