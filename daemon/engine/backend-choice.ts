/**
 * Which backend runs a model. `auto` runs the GPU backend on a hardware WebGPU adapter, and the CPU
 * backend (WebAssembly SIMD) when there is no adapter at all or only a software one (SwiftShader,
 * lavapipe): on those, code written for the CPU is far faster than WGSL emulated on it. `gpu` keeps the
 * GPU path whatever the adapter (a software one included); `cpu` never touches WebGPU.
 */
import { createGpu, GpuUnavailableError, type Gpu, type GpuOptions } from '../gpu/device.js';

export type BackendChoice = 'auto' | 'gpu' | 'cpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'gpu', 'cpu'];

export function isBackendChoice(v: unknown): v is BackendChoice {
  return typeof v === 'string' && (BACKEND_CHOICES as readonly string[]).includes(v);
}

/** The choice from a flag value, else MOECODE_BACKEND, else auto; throws on an unknown value. */
export function backendChoice(flag?: string): BackendChoice {
  const v = flag ?? process.env.MOECODE_BACKEND ?? 'auto';
  if (!isBackendChoice(v)) throw new RangeError(`unknown backend "${v}" (${flag !== undefined ? '--backend' : 'MOECODE_BACKEND'}: ${BACKEND_CHOICES.join(', ')})`);
  return v;
}

export type ResolvedBackend = { kind: 'gpu'; gpu: Gpu } | { kind: 'cpu'; why: string };

/**
 * Resolves a choice to a backend. For the GPU, the device is created here (and handed to the caller, who
 * owns it); `auto` destroys a software adapter's device again and picks the CPU.
 */
export async function resolveBackend(choice: BackendChoice, gpuOptions: GpuOptions = {}): Promise<ResolvedBackend> {
  if (choice === 'cpu') return { kind: 'cpu', why: 'the CPU backend was chosen' };
  if (choice === 'gpu') return { kind: 'gpu', gpu: await createGpu(gpuOptions) };
  let gpu: Gpu;
  try {
    gpu = await createGpu({ ...gpuOptions, adapter: gpuOptions.adapter === 'software' ? 'software' : 'hardware' });
  } catch (e) {
    if (e instanceof GpuUnavailableError) return { kind: 'cpu', why: `no hardware WebGPU adapter (${e.message})` };
    throw e;
  }
  if (gpu.info.isFallback && gpuOptions.adapter !== 'software') {
    gpu.destroy();
    return { kind: 'cpu', why: 'only a software WebGPU adapter is available' };
  }
  return { kind: 'gpu', gpu };
}
