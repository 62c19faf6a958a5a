/**
 * The memory budget a model must fit: the user's (moecode.gpu.memoryBudget in the daemon, --memory-budget
 * on the command line) when set; else automatic, a share of the host's free memory (os.freemem(), or what
 * the process's cgroup leaves when it has a smaller limit). The CPU backend and a software WebGPU adapter
 * use host memory; for a hardware GPU it is a guess (WebGPU does not tell a GPU's memory).
 * Node built-ins only: model discovery in the extension uses it too.
 */
import { freemem, totalmem } from 'node:os';
import type { BackendLimits, MemoryBudget } from './fit-plan.js';

/** Share of the host's free memory an automatic budget takes (the rest stays for the editor and the system). */
export const AUTO_BUDGET_SHARE = 0.75;
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
 * The budget: `explicitBytes` when > 0 (named `knob`), else AUTO_BUDGET_SHARE of the free memory plus
 * `reclaimableBytes` (memory a model about to be replaced holds).
 */
export function memoryBudget(explicitBytes: number, knob: string, host: HostMemory = hostMemory(), reclaimableBytes = 0): MemoryBudget {
  if (explicitBytes > 0) return { bytes: explicitBytes, explicit: true, knob, source: knob };
  const free = host.availableBytes + reclaimableBytes;
  return {
    bytes: Math.floor(free * AUTO_BUDGET_SHARE),
    explicit: false,
    knob,
    source: `automatic: ${Math.round(AUTO_BUDGET_SHARE * 100)}% of the ${Math.round(free / MiB)} MB of free memory`,
  };
}

/** Limits when the backend is not known yet (model discovery): the budget only. */
export function anyBackendLimits(budget: MemoryBudget): BackendLimits {
  return { kind: 'any', budget };
}
