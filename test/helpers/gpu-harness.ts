/**
 * Runs single kernels from shaders/ on the real WebGPU device, for the kernel tests (test/kernels/).
 *
 * One GPU device per test process, created on first use and destroyed after the last test. When no
 * adapter is available (createGpu throws GpuUnavailableError), or MOECODE_TEST_NO_GPU is set, `kernelTest`
 * skips with the reason.
 *
 *   kernelTest('rms_norm: ...', async (h) => {
 *     const out = await h.run({
 *       kernel: 'rms_norm', step: { n_tokens: 3 }, params: [n, 1, 1, { f32: 1e-6 }],
 *       bindings: { 2: weight, 3: x, 4: { bytes: x.byteLength } }, dispatch: grid(3), read: [4],
 *     });
 *     const y = new Float32Array(out[4]);
 *   });
 *
 * Buffers are created from typed arrays (or zero-filled from `{ bytes }`), with STORAGE | COPY_SRC |
 * COPY_DST usage (plus INDIRECT), binding 0 is the per-step uniform packed by packStep, binding 1 the
 * params uniform packed by packParams. Validation and out-of-memory errors of a run become exceptions.
 */
import { after, test, type TestContext } from 'node:test';
import { createGpu, describeGpu, type Gpu, GpuUnavailableError } from '../../daemon/gpu/device.js';
import { type KernelName, KernelRegistry, packParams, packStep, type ParamField, type StepParams } from '../../daemon/gpu/kernels.js';

/** Workgroup size the graph builder dispatches with (WG in graph-builder.ts). */
export const WG = 64;

/**
 * The graph builder's 1-D grid of `n` invocations: at most 65535 workgroups in x, folded into y beyond
 * that (kernels index gid.x + gid.y * 65535 * WG). Written again here so tests dispatch exactly as the
 * engine does.
 */
export function grid(n: number, wg = WG): [number, number, number] {
  const g = Math.max(Math.ceil(n / wg), 0);
  return g <= 65535 ? [g, 1, 1] : [65535, Math.ceil(g / 65535), 1];
}

/** Contents for a storage binding: data to upload, or a zero-filled buffer of `bytes`. */
export type BufferInit = ArrayBufferView | { bytes: number };

/** A binding: an existing buffer (optionally a range of it) or contents for a new one. */
export type BindingSource = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number } | BufferInit;

export type DispatchSize = [number, number, number] | { indirect: GPUBuffer; offset: number };

export interface KernelCall {
  kernel: KernelName;
  /** Entry point (default 'main'). */
  entry?: string;
  /** Pipeline-overridable constants. */
  constants?: Record<string, number>;
  /** The per-step uniform at binding 0; unspecified fields are 0. */
  step: Partial<StepParams>;
  /** The params uniform at binding 1. */
  params: readonly ParamField[];
  /** Storage bindings 2.. (exactly those the entry point uses: pipelines use layout 'auto'). */
  bindings: Record<number, BindingSource>;
  dispatch: DispatchSize;
}

export interface RunOptions extends KernelCall {
  /** Bindings read back after the dispatch: the uploaded data's length, the range, or the whole buffer. */
  read?: number[];
}

const STORAGE_USAGE = () => GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST | GPUBufferUsage.INDIRECT;
const pad16 = (n: number) => Math.max(16, Math.ceil(n / 16) * 16);

function isBuffer(b: unknown): b is GPUBuffer {
  return typeof b === 'object' && b !== null && 'mapAsync' in b && 'usage' in b;
}

function isRange(b: BindingSource): b is { buffer: GPUBuffer; offset?: number; size?: number } {
  return !isBuffer(b) && 'buffer' in b && isBuffer(b.buffer);
}

export class GpuKernelHarness {
  readonly device: GPUDevice;
  readonly kernels: KernelRegistry;

  constructor(readonly gpu: Gpu) {
    this.device = gpu.device;
    this.kernels = new KernelRegistry(gpu.device);
  }

  /** The cached compute pipeline of one kernel entry point (creation is slow on software adapters). */
  pipeline(kernel: KernelName, entry = 'main', constants: Record<string, number> = {}): GPUComputePipeline {
    return this.kernels.pipeline(kernel, entry, constants);
  }

  /** A storage buffer holding `init` (padded to 16 bytes). The caller destroys it. */
  buffer(init: BufferInit, label = 'test'): GPUBuffer {
    const bytes = ArrayBuffer.isView(init) ? init.byteLength : init.bytes;
    const buf = this.device.createBuffer({ label, size: pad16(bytes), usage: STORAGE_USAGE() });
    if (ArrayBuffer.isView(init) && init.byteLength > 0) {
      const whole = init.byteLength % 4 === 0 ? init : padTo4(init);
      this.device.queue.writeBuffer(buf, 0, whole.buffer, whole.byteOffset, whole.byteLength);
    }
    return buf;
  }

  /** A uniform buffer holding `data` (e.g. packParams(...) or packStep(...)). The caller destroys it. */
  uniform(data: ArrayBuffer, label = 'uniform'): GPUBuffer {
    const buf = this.device.createBuffer({ label, size: pad16(data.byteLength), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.device.queue.writeBuffer(buf, 0, data);
    return buf;
  }

  /** The per-step uniform; unspecified fields are 0. */
  stepUniform(s: Partial<StepParams>): GPUBuffer {
    return this.uniform(packStep(fullStep(s)), 'step');
  }

  /** Copies `bytes` (default: all) of a buffer back to the host. */
  async read(buffer: GPUBuffer, bytes = buffer.size, offset = 0): Promise<ArrayBuffer> {
    const staging = this.device.createBuffer({ label: 'readback', size: pad16(bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    try {
      const enc = this.device.createCommandEncoder();
      enc.copyBufferToBuffer(buffer, offset, staging, 0, Math.ceil(bytes / 4) * 4);
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(GPUMapMode.READ);
      const out = staging.getMappedRange().slice(0, bytes);
      staging.unmap();
      return out;
    } finally {
      staging.destroy();
    }
  }

  /**
   * Records `calls` in order into one compute pass, submits and waits. Each call gets its own step and
   * params uniforms. Buffers it had to create for BufferInit bindings are returned with the call index
   * (for reading back) and must be destroyed by the caller (`dispose`).
   */
  async submit(calls: readonly KernelCall[]): Promise<{ created: Map<number, GPUBuffer>[]; dispose: () => void }> {
    const temps: GPUBuffer[] = [];
    const created: Map<number, GPUBuffer>[] = [];
    const dispose = () => temps.forEach((b) => b.destroy());
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let failure: unknown;
    try {
      const enc = this.device.createCommandEncoder({ label: 'kernel-test' });
      const pass = enc.beginComputePass();
      for (const call of calls) {
        const pipeline = this.pipeline(call.kernel, call.entry ?? 'main', call.constants ?? {});
        const step = this.stepUniform(call.step);
        const params = this.uniform(packParams(call.params), `${call.kernel}.params`);
        temps.push(step, params);
        const mine = new Map<number, GPUBuffer>();
        const entries: GPUBindGroupEntry[] = [
          { binding: 0, resource: { buffer: step } },
          { binding: 1, resource: { buffer: params } },
        ];
        for (const [key, src] of Object.entries(call.bindings)) {
          const binding = Number(key);
          if (isBuffer(src)) {
            entries.push({ binding, resource: { buffer: src } });
          } else if (isRange(src)) {
            entries.push({ binding, resource: { buffer: src.buffer, offset: src.offset ?? 0, size: src.size } });
          } else {
            const b = this.buffer(src as BufferInit, `${call.kernel}.b${binding}`);
            temps.push(b);
            mine.set(binding, b);
            entries.push({ binding, resource: { buffer: b } });
          }
        }
        created.push(mine);
        const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
        pass.setPipeline(pipeline);
        pass.setBindGroup(0, bindGroup);
        const d = call.dispatch;
        if (Array.isArray(d)) {
          if (d[0] > 0 && d[1] > 0 && d[2] > 0) pass.dispatchWorkgroups(d[0], d[1], d[2]);
        } else {
          pass.dispatchWorkgroupsIndirect(d.indirect, d.offset);
        }
      }
      pass.end();
      this.device.queue.submit([enc.finish()]);
      await this.device.queue.onSubmittedWorkDone();
    } catch (err) {
      failure = err;
    }
    const validation = await this.device.popErrorScope();
    const oom = await this.device.popErrorScope();
    const scoped = validation ?? oom;
    if (scoped || failure) {
      dispose();
      if (scoped) throw new Error(`WebGPU ${validation ? 'validation' : 'out-of-memory'} error: ${scoped.message}`, { cause: failure });
      throw failure;
    }
    return { created, dispose };
  }

  /** One dispatch; returns the listed bindings' buffers read back whole. */
  async run(opts: RunOptions): Promise<Record<number, ArrayBuffer>> {
    const { created, dispose } = await this.submit([opts]);
    try {
      const out: Record<number, ArrayBuffer> = {};
      for (const binding of opts.read ?? []) {
        const src = opts.bindings[binding];
        if (src === undefined) throw new Error(`read: binding ${binding} is not bound`);
        if (isBuffer(src)) out[binding] = await this.read(src);
        else if (isRange(src)) out[binding] = await this.read(src.buffer, src.size ?? src.buffer.size - (src.offset ?? 0), src.offset ?? 0);
        else out[binding] = await this.read(created[0]!.get(binding)!, ArrayBuffer.isView(src) ? src.byteLength : src.bytes);
      }
      return out;
    } finally {
      dispose();
    }
  }
}

function padTo4(v: ArrayBufferView): Uint8Array {
  const out = new Uint8Array(Math.ceil(v.byteLength / 4) * 4);
  out.set(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
  return out;
}

export function fullStep(s: Partial<StepParams>): StepParams {
  return {
    n_tokens: s.n_tokens ?? 0,
    pos_start: s.pos_start ?? 0,
    n_kv: s.n_kv ?? 0,
    logits_start: s.logits_start ?? 0,
    n_logits: s.n_logits ?? 0,
    kv_base: s.kv_base ?? 0,
    seed: s.seed ?? 0,
    sample_index: s.sample_index ?? 0,
  };
}

// --- one device per test process -------------------------------------------------------------------

let harness: Promise<GpuKernelHarness | string> | undefined;
let created: GpuKernelHarness | undefined;

/** The process's harness, or the reason there is no GPU (GpuUnavailableError's message). */
export function gpuHarness(): Promise<GpuKernelHarness | string> {
  if (process.env.MOECODE_TEST_NO_GPU) return Promise.resolve('MOECODE_TEST_NO_GPU is set');
  harness ??= createGpu().then(
    (gpu) => {
      created = new GpuKernelHarness(gpu);
      if (process.env.MOECODE_TEST_VERBOSE) console.log(`# kernel tests on ${describeGpu(gpu.info)}`);
      return created;
    },
    (err: unknown) => {
      if (err instanceof GpuUnavailableError) return `no WebGPU adapter: ${err.message}`;
      throw err;
    },
  );
  return harness;
}

/** Destroys the process's device (registered with node:test's `after`, so it runs after the last test). */
export function releaseGpu(): void {
  created?.gpu.destroy();
  created = undefined;
}

after(releaseGpu);

let skipLogged = false;

/** A test that needs the GPU: skipped, with the reason printed, when there is none. */
export function kernelTest(name: string, fn: (h: GpuKernelHarness, t: TestContext) => Promise<void>, options: { timeout?: number } = {}): void {
  test(name, { timeout: options.timeout ?? 120_000 }, async (t) => {
    const h = await gpuHarness();
    if (typeof h === 'string') {
      if (!skipLogged) console.log(`kernel tests skipped: ${h}`);
      skipLogged = true;
      t.skip(h);
      return;
    }
    await fn(h, t);
  });
}
