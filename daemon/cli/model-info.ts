/** What `moecode info` reports about a GGUF: architecture, hyperparameters, parameter counts, types. */
import type { GgufFile } from '../gguf/gguf-reader.js';
import { ggmlTypeName } from '../gguf/ggml-types.js';
import type { ModelConfig } from '../model/hparams.js';

export interface ParamCounts {
  total: number;
  /** Parameters used per token: everything but the experts not chosen. */
  activePerToken: number;
  experts: number;
}

export function countParams(file: GgufFile, cfg: ModelConfig): ParamCounts {
  let total = 0;
  let experts = 0;
  for (const t of file.tensors) {
    total += t.nElements;
    if (/_exps\.weight$|\.ffn_(gate|up|down)\.\d+\.weight$/.test(t.name)) experts += t.nElements; // merged or per-expert tensors
  }
  const unused = cfg.n_expert > 0 ? experts * (1 - cfg.n_expert_used / cfg.n_expert) : 0;
  return { total, activePerToken: total - unused, experts };
}

export function tensorTypeCounts(file: GgufFile): Record<string, number> {
  const out: Record<string, number> = {};
  for (const t of file.tensors) out[ggmlTypeName(t.type)] = (out[ggmlTypeName(t.type)] ?? 0) + 1;
  return out;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} K`;
  return String(n);
}
