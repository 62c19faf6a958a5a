/**
 * What the expert executor reports about placement and caching, counted per routed (token, expert) choice:
 * a hit ran in a GPU slot the expert already held, the others ran on the CPU or were uploaded into a slot
 * first. Fully resident layers count as hits. Prefetch accuracy: the share of a layer's routed choices its
 * prediction (made one layer earlier) named. Uploaded bytes exclude the experts placed at load.
 */
import { formatBytes } from './byte-size.js';

export interface OffloadReport {
  /** Routed experts with a GPU slot, and all routed experts. */
  expertsOnGpu: number;
  expertsTotal: number;
  /** Routed (token, expert) choices since load, and how each ran. */
  choices: number;
  hits: number;
  cpu: number;
  uploaded: number;
  /** Choices the prefetch predicted for layers with host experts, and how many it got right. */
  predicted: number;
  predictedRight: number;
  /** Expert bytes uploaded after load (on demand, migrations, prefetch), and the tokens they served. */
  uploadedBytes: number;
  uploads: number;
  tokens: number;
  /** Host expert cache (experts in host memory for the CPU): loads from the file, and uses that found them loaded. */
  hostLoads: number;
  hostHits: number;
  hostBytesRead: number;
}

export function emptyOffloadReport(expertsOnGpu: number, expertsTotal: number): OffloadReport {
  return { expertsOnGpu, expertsTotal, choices: 0, hits: 0, cpu: 0, uploaded: 0, predicted: 0, predictedRight: 0, uploadedBytes: 0, uploads: 0, tokens: 0, hostLoads: 0, hostHits: 0, hostBytesRead: 0 };
}

export const ratio = (a: number, b: number): number => (b > 0 ? a / b : 0);

export const hitRate = (r: OffloadReport): number => (r.choices > 0 ? r.hits / r.choices : 1);
export const prefetchAccuracy = (r: OffloadReport): number | undefined => (r.predicted > 0 ? r.predictedRight / r.predicted : undefined);
export const uploadedBytesPerToken = (r: OffloadReport): number => ratio(r.uploadedBytes, r.tokens);
export const gpuExpertShare = (r: OffloadReport): number => ratio(r.expertsOnGpu, r.expertsTotal);

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

/** The closing line of `moecode run`: placement, hit rate, prefetch accuracy, bytes uploaded per token. */
export function formatOffloadReport(r: OffloadReport): string {
  const acc = prefetchAccuracy(r);
  return (
    `experts: ${r.expertsOnGpu} of ${r.expertsTotal} on the GPU (${pct(gpuExpertShare(r))}); ` +
    `expert cache hit ${pct(hitRate(r))} of ${r.choices} routed choices (cpu ${pct(ratio(r.cpu, r.choices))}, uploaded ${pct(ratio(r.uploaded, r.choices))}); ` +
    `prefetch accuracy ${acc === undefined ? '-' : pct(acc)}; uploaded ${formatBytes(uploadedBytesPerToken(r))}/token`
  );
}

/** The difference of two reports (counters since `before`), e.g. for one bench phase. */
export function offloadReportDelta(after: OffloadReport, before: OffloadReport): OffloadReport {
  const out = { ...after };
  for (const k of Object.keys(after) as (keyof OffloadReport)[]) {
    if (k !== 'expertsOnGpu' && k !== 'expertsTotal') out[k] = after[k] - before[k];
  }
  return out;
}
