/**
 * The printed report of `npm run bench:grok`: measured per-layer and head times on the slice, Grok-1's
 * memory plan at 64 layers, and decode estimates for the hardware profiles with every assumption stated.
 */
import { activeBytesPerToken, estimateDecode, GB, GiB, grokPlan, type GrokPlan, type HardwareProfile, type SliceType } from './grok-plan.js';
import type { GrokChildResult } from './bench-grok-child.js';
import type { BenchResult } from './bench-common.js';
import { hitRate, prefetchAccuracy, ratio, uploadedBytesPerToken } from '../../daemon/model/offload-stats.js';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** What one engine run on the slice gives, split into layers and head. */
export interface SliceTimes {
  /** One decode step with sampling (median), ms. */
  stepMs: number;
  /** Per layer of a decode step, ms (feed step / n_layer: includes the one-row embedding lookup). */
  layerMs: number;
  /** Output head + host sampling, ms (NaN when the backend's feed step runs the head too). */
  headMs: number;
  /** Prefill per layer per prompt token, ms. */
  prefillLayerMsPerToken: number;
}

export function sliceTimes(r: GrokChildResult): SliceTimes {
  const step = median(r.sampleMs);
  const feed = median(r.feedMs);
  const headMs = r.feedSkipsHead ? Math.max(0, step - feed) : NaN;
  const layerMs = (r.feedSkipsHead ? feed : step) / r.nLayer;
  return { stepMs: step, layerMs, headMs, prefillLayerMsPerToken: r.prefillMs / r.promptTokens / r.nLayer };
}

/** Decode and prefill of the 64-layer model on this machine from the slice's measured times, if memory held it. */
export function extrapolateMeasured(t: SliceTimes, nLayer: number): { decodeTokPerS: number; prefillTokPerS: number } {
  const head = Number.isFinite(t.headMs) ? t.headMs : 0;
  return { decodeTokPerS: 1000 / (nLayer * t.layerMs + head), prefillTokPerS: 1000 / (nLayer * t.prefillLayerMsPerToken) };
}

const gb = (n: number, d = 2) => `${(n / GB).toFixed(d)} GB`;
const ms = (n: number) => (Number.isFinite(n) ? `${n.toFixed(n < 10 ? 2 : 1)} ms` : '-');
const rate = (n: number) => (Number.isFinite(n) && n > 0 ? (n < 0.1 ? n.toPrecision(2) : n.toFixed(n < 10 ? 2 : 1)) : '-');
const pct = (x: number) => `${(x * 100).toFixed(x > 0 && x < 0.1 ? 1 : 0)}%`;

export function table(header: string[], rows: string[][]): string {
  const w = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(w[i]!)).join('  ').trimEnd();
  return [fmt(header), fmt(w.map((n) => '-'.repeat(n))), ...rows.map(fmt)].join('\n');
}

export interface MeasuredRow {
  type: SliceType;
  engine: string;
  result: GrokChildResult | BenchResult | Error | string;
}

function isChild(r: MeasuredRow['result']): r is GrokChildResult {
  return typeof r === 'object' && r !== null && 'sampleMs' in r;
}

/** Bytes a decode step of the slice reads, over the step's time: the read rate it reached. */
function readRate(plan: GrokPlan, ctx: number, stepMs: number): string {
  return `${(activeBytesPerToken(plan, ctx).total / GB / (stepMs / 1000)).toFixed(1)}`;
}

/** Prefill and decode tok/s of a measured row; undefined for a failed one. */
function speeds(r: MeasuredRow['result']): { prefill: number; decode: number } | undefined {
  if (typeof r === 'string' || r instanceof Error) return undefined;
  if (isChild(r)) return { prefill: (r.promptTokens / r.prefillMs) * 1000, decode: 1000 / sliceTimes(r).stepMs };
  const run = r.runs[0];
  return run ? { prefill: run.prefillTokPerS, decode: run.decodeTokPerS } : undefined;
}

const times = (ours: number, theirs: number | undefined) => (theirs && Number.isFinite(ours) && Number.isFinite(theirs) ? `${(ours / theirs).toFixed(2)}x` : '-');

/** Measured figures on the slice, one line per engine and type, with each engine's ratio to llama.cpp on the same file. */
export function measuredTable(rows: MeasuredRow[], slicePlan: (t: SliceType) => GrokPlan): string {
  const llama = new Map<SliceType, { prefill: number; decode: number }>();
  for (const row of rows) {
    const sp = row.engine === 'llama.cpp' ? speeds(row.result) : undefined;
    if (sp) llama.set(row.type, sp);
  }
  const vsLlama = (row: MeasuredRow): string => {
    const ours = speeds(row.result);
    const theirs = llama.get(row.type);
    return ours && theirs ? `${times(ours.prefill, theirs.prefill)} / ${times(ours.decode, theirs.decode)}` : '-';
  };
  const out: string[][] = [];
  for (const row of rows) {
    const r = row.result;
    if (typeof r === 'string' || r instanceof Error) {
      out.push([row.type, row.engine, typeof r === 'string' ? r : `failed: ${r.message.split('\n')[0]!.slice(0, 160)}`]);
      continue;
    }
    if (isChild(r)) {
      const t = sliceTimes(r);
      out.push([
        row.type,
        row.engine,
        (r.loadMs / 1000).toFixed(1),
        rate((r.promptTokens / r.prefillMs) * 1000),
        ms(t.prefillLayerMsPerToken),
        ms(t.stepMs),
        rate(1000 / t.stepMs),
        vsLlama(row),
        ms(t.layerMs),
        ms(t.headMs),
        readRate(slicePlan(row.type), r.promptTokens, t.stepMs),
        (r.peakRssBytes / GiB).toFixed(1),
        r.device,
      ]);
    } else {
      const run = r.runs[0]!;
      out.push([
        row.type,
        row.engine,
        (r.loadMs / 1000).toFixed(1),
        rate(run.prefillTokPerS),
        '-',
        ms(run.decodeMs / run.decodeTokens),
        rate(run.decodeTokPerS),
        vsLlama(row),
        '-',
        '-',
        readRate(slicePlan(row.type), run.promptTokens, run.decodeMs / run.decodeTokens),
        (r.peakRssBytes / GiB).toFixed(1),
        r.device,
      ]);
    }
  }
  return table(['type', 'engine', 'load s', 'prefill tok/s', 'prefill/layer/tok', 'decode step', 'decode tok/s', 'x llama.cpp (prefill / decode)', 'per layer', 'head', 'GB/s read', 'peak RSS GiB', 'device'], out);
}

/** Grok-1's memory plan at 64 layers for each type. */
export function memoryPlanTable(types: readonly SliceType[], ctx: number): string {
  const plans = types.map((t) => grokPlan(t));
  const row = (label: string, f: (p: GrokPlan) => string) => [label, ...plans.map(f)];
  const rows = [
    row('attention (64 layers)', (p) => gb(p.byClass.attention ?? 0)),
    row('experts (64 x 8)', (p) => gb(p.experts, 1)),
    row('  one expert of one layer', (p) => `${((p.expertBytes / GB) * 1000).toFixed(0)} MB`),
    row('router + norms', (p) => `${(((p.byClass.router ?? 0) + (p.byClass.norms ?? 0)) / 1e6).toFixed(1)} MB`),
    row('embeddings = output (tied)', (p) => gb(p.byClass.embeddings ?? 0)),
    row('total weights', (p) => gb(p.total, 1)),
    row('KV cache per 1k tokens (f16)', (p) => `${((p.kvBytesPerToken * 1024) / 2 ** 20).toFixed(0)} MiB`),
    row(`read per decoded token (ctx ${ctx})`, (p) => gb(activeBytesPerToken(p, ctx).total)),
    row('  of which 2 experts x 64 layers', (p) => gb(activeBytesPerToken(p, ctx).experts)),
    row('  attention + router + norms', (p) => gb(activeBytesPerToken(p, ctx).dense)),
    row('  output head', (p) => gb(activeBytesPerToken(p, ctx).head)),
    row('  KV cache', (p) => gb(activeBytesPerToken(p, ctx).kv, 3)),
  ];
  return table(['Grok-1, 64 layers', ...types], rows);
}

/** Decode estimates for each profile and type. */
export function profileTable(profiles: readonly HardwareProfile[], types: readonly SliceType[], ctx: number): string {
  const rows: string[][] = [];
  for (const hw of profiles) {
    for (const type of types) {
      const e = estimateDecode(grokPlan(type), ctx, hw);
      if (e.doesNotFit) {
        rows.push([hw.name, type, '-', '-', '-', '-', '-', `does not fit: ${e.doesNotFit}`]);
        continue;
      }
      const fast = hw.gpus > 0 ? 'GPU' : 'RAM';
      const where = hw.gpus > 0 ? `${pct(e.expertsOnGpu)} GPU / ${pct(e.expertsInHost)} host / ${pct(e.expertsOnDisk)} disk` : `${pct(e.expertsInHost)} RAM / ${pct(e.expertsOnDisk)} disk`;
      const secs = [`${fast} ${ms(e.seconds.gpu * 1000)}`];
      if (e.seconds.host > 0) secs.push(`host ${ms(e.seconds.host * 1000)} (${e.hostExpertPath === 'cpu' ? 'CPU computes' : 'uploaded'})`);
      if (e.seconds.disk > 0) secs.push(`disk ${ms(e.seconds.disk * 1000)}`);
      if (e.seconds.sync > 0) secs.push(`sync ${ms(e.seconds.sync * 1000)}`);
      rows.push([hw.name, type, where, hw.gpus > 0 ? pct(e.gpuHitRate) : '-', secs.join(' + '), ms(e.secondsPerToken * 1000), rate(e.tokensPerSecond), '']);
    }
  }
  return table(['profile', 'type', 'experts placed', 'GPU hit', 'time per token by tier', 'per token', 'tok/s', ''], rows);
}

export function assumptionLines(profiles: readonly HardwareProfile[], ctx: number): string[] {
  const lines = [
    'Model (all profiles): decode is bandwidth-bound; a token reads each layer\'s attention, router and norms, 2 of its 8 experts,',
    `  the output head (one 131,072 x 6,144 matrix), one embedding row and the KV cache (context ${ctx}, f16); time = sum over tiers of`,
    '  bytes read there / that tier\'s bandwidth (tiers do not overlap; compute, launch and scheduling costs are ignored): upper bounds.',
    'Placement: non-expert weights and the KV cache on the GPU(s), then as many experts as fit, then host memory, then disk.',
    'Routing taken as uniform (every expert equally likely), so the GPU hit rate is the share of experts resident there;',
    '  an expert cache that follows skewed real routing does better.',
  ];
  for (const hw of profiles) lines.push(`${hw.name}:`, ...hw.assumptions.map((a) => `  ${a}`));
  return lines;
}

/** The budgeted GPU runs: budget against the slice, placement, and the expert cache over the decode steps. */
export function budgetTable(rows: MeasuredRow[], sliceBytes: Partial<Record<SliceType, number>>): string | undefined {
  const out: string[][] = [];
  for (const row of rows) {
    const r = row.result;
    if (!isChild(r) || !r.placement) continue;
    const p = r.placement;
    const o = r.offload;
    const acc = o && prefetchAccuracy(o);
    out.push([
      row.type,
      gb(p.budgetBytes),
      gb(sliceBytes[row.type] ?? NaN),
      gb(p.minimumBytes),
      `${p.expertsOnGpu} of ${p.expertsTotal}`,
      gb(p.hostCacheBytes),
      o ? `${pct(hitRate(o))} of ${o.choices}` : '-',
      o ? pct(ratio(o.cpu, o.choices)) : '-',
      o ? pct(ratio(o.uploaded, o.choices)) : '-',
      acc === undefined ? '-' : pct(acc),
      o ? `${(uploadedBytesPerToken(o) / 2 ** 20).toFixed(1)} MiB` : '-',
    ]);
  }
  if (out.length === 0) return undefined;
  return table(['type', 'GPU budget', 'slice', 'minimum', 'experts on GPU', 'host experts', 'hit', 'on CPU', 'uploaded', 'prefetch right', 'uploaded/token'], out);
}
