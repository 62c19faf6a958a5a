/** The daemon status's expert placement and cache figures (protocol.ts ExpertStatus) of a loaded model. */
import type { Model } from '../engine/model.js';
import { hitRate, prefetchAccuracy, uploadedBytesPerToken } from '../model/offload-stats.js';
import type { ExpertStatus } from '../protocol.js';

/** Undefined for dense models and the CPU backend (no GPU expert cache there). */
export function expertStatus(m: Model): ExpertStatus | undefined {
  const cfg = m.cfg;
  if (cfg.n_expert === 0 || m.backendInfo.kind !== 'gpu') return undefined;
  const r = m.offload;
  if (!r) return { onGpu: cfg.n_expert * cfg.n_layer, total: cfg.n_expert * cfg.n_layer, hitRate: 1, uploadedBytesPerToken: 0 };
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const acc = prefetchAccuracy(r);
  return {
    onGpu: r.expertsOnGpu,
    total: r.expertsTotal,
    hitRate: round(hitRate(r)),
    ...(acc === undefined ? {} : { prefetchAccuracy: round(acc) }),
    uploadedBytesPerToken: Math.round(uploadedBytesPerToken(r)),
  };
}
