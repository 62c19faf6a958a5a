/** What `moecode info` says about where a model would run, from the backend choice and the adapter found. */
import type { BackendChoice } from '../engine/backend-choice.js';
import { physicalCores } from '../cpu/cpu-backend.js';
import { describeGpu, type GpuInfo } from '../gpu/device.js';

export interface BackendPlan {
  kind: 'gpu' | 'cpu' | 'none';
  description: string;
  threads?: number;
}

export function describeBackendPlan(choice: BackendChoice, gpu: GpuInfo | undefined, threads: number): BackendPlan {
  const n = threads || physicalCores();
  const cpu = (why: string): BackendPlan => ({ kind: 'cpu', description: `CPU: WebAssembly SIMD, ${n} thread${n === 1 ? '' : 's'} (${why})`, threads: n });
  if (choice === 'cpu') return cpu('--backend cpu');
  if (choice === 'gpu') return gpu ? { kind: 'gpu', description: `GPU: ${describeGpu(gpu)} (--backend gpu)` } : { kind: 'none', description: 'none: --backend gpu, but no WebGPU adapter is available' };
  if (!gpu) return cpu('auto: no WebGPU adapter');
  if (gpu.isFallback) return cpu(`auto: only a software WebGPU adapter, ${describeGpu(gpu)}`);
  return { kind: 'gpu', description: `GPU: ${describeGpu(gpu)} (auto)` };
}
