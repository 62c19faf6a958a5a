/**
 * What the tests that run a model need from this machine. A model runs wherever the engine's backend choice
 * (MOECODE_BACKEND, else auto) resolves: `auto` takes the CPU backend when there is no WebGPU adapter, so
 * those tests need no GPU; only tests that force the GPU backend (placement under a GPU budget, SwiftShader
 * timing) need a WebGPU adapter. Each answer is a reason to skip (printed by the test), or undefined.
 */
import { backendChoice, resolveBackend } from '../../daemon/engine/backend-choice.js';
import { createGpu } from '../../daemon/gpu/device.js';

let modelCheck: Promise<string | undefined> | undefined;
let webgpuCheck: Promise<string | undefined> | undefined;

/** Why the engine cannot run a model here with the backend it would choose, or undefined (it can). */
export function modelUnavailable(): Promise<string | undefined> {
  modelCheck ??= (async () => {
    const choice = backendChoice();
    try {
      const r = await resolveBackend(choice);
      if (r.kind === 'gpu') r.gpu.destroy();
      return undefined;
    } catch (e) {
      return `the ${choice} backend cannot run here: ${(e as Error).message}`;
    }
  })();
  return modelCheck;
}

/** Why there is no WebGPU adapter here (tests that force the GPU backend), or undefined. */
export function webgpuUnavailable(): Promise<string | undefined> {
  webgpuCheck ??= (async () => {
    try {
      (await createGpu()).destroy();
      return undefined;
    } catch (e) {
      return `no WebGPU adapter: ${(e as Error).message}`;
    }
  })();
  return webgpuCheck;
}
