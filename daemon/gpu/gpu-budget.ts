/**
 * The GPU memory budget and the host expert cache size, wherever they come from:
 *   GPU budget   the caller's (moecode.gpu.memoryBudget, `--gpu-budget`), else MOECODE_GPU_BUDGET, else the
 *                adapter's limit less a reserve. WebGPU does not tell how much memory a hardware GPU has, so
 *                there the default is no limit (every expert on the GPU, as before placement existed); a
 *                software adapter (SwiftShader, lavapipe) uses host memory, so there it is a share of RAM.
 *   host cache   MOECODE_HOST_CACHE, else half of the machine's memory (on a software adapter, no more than
 *                what the GPU part leaves of RAM less the reserve).
 * Sizes in the environment take the forms of byte-size.ts (`536870912`, `512MiB`, `6GiB`).
 */
import { totalmem } from 'node:os';
import { parseByteSize } from '../model/byte-size.js';
import { budgetFromEnv } from '../model/memory-budget.js';
import type { GpuInfo } from './device.js';

/** What a software adapter leaves to everything else: the larger of 2 GiB and a quarter of RAM. */
function softwareReserve(total: number): number {
  return Math.max(2 * 1024 ** 3, total / 4);
}

/** The default budget of an adapter: null (no limit) for hardware, RAM less a reserve for a software adapter. */
export function defaultGpuBudget(info: Pick<GpuInfo, 'isFallback'>, ram = totalmem()): number | null {
  return info.isFallback ? Math.max(0, Math.floor(ram - softwareReserve(ram))) : null;
}

/** The budget in force: `explicit` (bytes; 0 or undefined: not set), else the environment, else the adapter's default. */
export function resolveGpuBudget(explicit: number | undefined, info: Pick<GpuInfo, 'isFallback'>, env: NodeJS.ProcessEnv = process.env): number | null {
  if (explicit !== undefined && explicit > 0) return explicit;
  return budgetFromEnv(env) ?? defaultGpuBudget(info);
}

/**
 * The host expert cache's size: `explicit`, else MOECODE_HOST_CACHE, else half of RAM. On a software
 * adapter the "GPU" memory is host memory too: pass what it takes (`softwareGpuBytes`), and the default
 * keeps within RAM less the same reserve as the GPU budget's (the two defaults together never pass RAM;
 * 0 leaves one expert slot, read from the file each time).
 */
export function resolveHostCacheBytes(explicit: number | undefined, env: NodeJS.ProcessEnv = process.env, ram = totalmem(), softwareGpuBytes = 0): number {
  if (explicit !== undefined && explicit > 0) return explicit;
  const v = env.MOECODE_HOST_CACHE;
  if (v !== undefined && v.trim() !== '') return parseByteSize(v, 'MOECODE_HOST_CACHE');
  const half = Math.floor(ram / 2);
  if (softwareGpuBytes <= 0) return half;
  return Math.max(0, Math.min(half, Math.floor(ram - softwareReserve(ram) - softwareGpuBytes)));
}
