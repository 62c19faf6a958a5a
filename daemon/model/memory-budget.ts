/**
 * The memory budget a model must fit: the user's (moecode.gpu.memoryBudget in the daemon, --gpu-budget on
 * the command line, else the environment variable MOECODE_GPU_BUDGET) when set; else automatic: a share of the host's free memory (os.freemem(), or what
 * the process's cgroup leaves when it has a smaller limit), and at most twice the model's weights plus
 * 1 GiB — so a small file announcing many layers and a long context (a "KV bomb") gets a context that fits
 * it, not most of the machine. The CPU backend and a software WebGPU adapter use host memory; for a
 * hardware GPU it is a guess (WebGPU does not tell a GPU's memory). Node built-ins only: model discovery
 * in the extension uses it too.
 */
import { freemem, totalmem } from 'node:os';
import { parseByteSize } from './byte-size.js';
import type { BackendLimits, MemoryBudget } from './fit-plan.js';

/** MOECODE_GPU_BUDGET in bytes (`536870912`, `512MiB`, `6GiB`), or undefined when unset (a ByteSizeError when malformed). */
export function budgetFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const v = env.MOECODE_GPU_BUDGET;
  return v === undefined || v.trim() === '' ? undefined : parseByteSize(v, 'MOECODE_GPU_BUDGET');
}

/** Share of the host's free memory an automatic budget takes (the rest stays for the editor and the system). */
export const AUTO_BUDGET_SHARE = 0.75;
/** An automatic budget holds at most the weights twice over plus this (KV cache and activations beyond the weights). */
export const AUTO_BUDGET_EXTRA = 1024 * 1024 * 1024;
const MiB = 1024 * 1024;

export interface HostMemory {
  availableBytes: number;
  totalBytes: number;
}

/** Free and total memory of the host, or of the cgroup the process runs in when that is smaller. */
export function hostMemory(): HostMemory {
  let availableBytes = freemem();
  let totalBytes = totalmem();
  const constrained = (process as { constrainedMemory?: () => number | undefined }).constrainedMemory?.();
  if (constrained && Number.isFinite(constrained) && constrained > 0 && constrained < totalBytes) {
    totalBytes = constrained;
    availableBytes = Math.min(availableBytes, Math.max(0, constrained - process.memoryUsage().rss));
  }
  return { availableBytes, totalBytes };
}

/**
 * The budget for a model of `weightBytes`: `explicitBytes` when > 0 (named `knob`), else AUTO_BUDGET_SHARE
 * of the free memory plus `reclaimableBytes` (memory a model about to be replaced holds), at most
 * 2 × weightBytes + AUTO_BUDGET_EXTRA.
 */
export function memoryBudget(explicitBytes: number, knob: string, weightBytes: number, host: HostMemory = hostMemory(), reclaimableBytes = 0): MemoryBudget {
  if (explicitBytes > 0) return { bytes: explicitBytes, explicit: true, knob, source: knob };
  const env = budgetFromEnv();
  if (env !== undefined && env > 0) return { bytes: env, explicit: true, knob: 'MOECODE_GPU_BUDGET', source: 'MOECODE_GPU_BUDGET' };
  const free = host.availableBytes + reclaimableBytes;
  const share = Math.floor(free * AUTO_BUDGET_SHARE);
  const cap = 2 * weightBytes + AUTO_BUDGET_EXTRA;
  const source =
    share <= cap
      ? `automatic: ${Math.round(AUTO_BUDGET_SHARE * 100)}% of the ${Math.round(free / MiB)} MB of free memory`
      : `automatic: twice the weights plus ${AUTO_BUDGET_EXTRA / MiB} MB, within ${Math.round(AUTO_BUDGET_SHARE * 100)}% of the ${Math.round(free / MiB)} MB of free memory`;
  return { bytes: Math.min(share, cap), explicit: false, knob, source };
}

/** Limits when the backend is not known yet (model discovery): the budget only. */
export function anyBackendLimits(budget: MemoryBudget): BackendLimits {
  return { kind: 'any', budget };
}
