/**
 * Runs a recorded forward graph: one uniform write, then one command buffer per segment (the whole step
 * when the graph has no host ops). Generation steps end with the sampling kernel and read back 4 bytes;
 * evaluation steps read back the logits rows.
 */
import type { SamplingParams } from '../model/backend.js';
import { type GraphBuilder, isHostOp } from './graph-builder.js';
import { packParams, packStep, type StepParams } from './kernels.js';
import { checkMask, maskWords } from '../model/sample-mask.js';
import { checkSampledToken } from '../model/sample-result.js';

export type { SamplingParams } from '../model/backend.js';

export class GraphRunner {
  private readonly sampleParams: GPUBuffer;
  private readonly sampleBindGroup: GPUBindGroup;
  private readonly samplePipeline: GPUComputePipeline;
  private readonly tokenReadback: GPUBuffer;
  /** The allowed-token bitset, [ceil(n_vocab / 32)] u32 words, and the array it holds now. */
  private readonly sampleMask: GPUBuffer;
  private uploadedMask: Uint32Array | undefined;
  private logitsReadback?: GPUBuffer;
  private busy = false;
  /** Milliseconds per token of recent steps, by kind: [decode (1 token), prefill (per token)]. */
  private readonly msPerToken = [0, 0];

  constructor(private readonly graph: GraphBuilder) {
    const d = graph.device;
    graph.finalize();
    this.sampleParams = d.createBuffer({ label: 'sample_params', size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    this.sampleMask = d.createBuffer({ label: 'sample_mask', size: Math.ceil(maskWords(graph.logitsBuffer.nVocab) / 4) * 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    this.samplePipeline = graph.kernels.pipeline('sample');
    this.sampleBindGroup = d.createBindGroup({
      label: 'sample',
      layout: this.samplePipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: graph.step } },
        { binding: 1, resource: { buffer: this.sampleParams } },
        { binding: 2, resource: { buffer: graph.logitsBuffer.buffer } },
        { binding: 3, resource: { buffer: graph.sampleOut } },
        { binding: 4, resource: { buffer: this.sampleMask } },
      ],
    });
    this.tokenReadback = d.createBuffer({ label: 'token_readback', size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  }

  /** Uploads `mask` unless it is the array uploaded last; checks its size and that it allows a token. */
  private useMask(mask: Uint32Array): void {
    if (mask === this.uploadedMask) return;
    const nVocab = this.graph.logitsBuffer.nVocab;
    checkMask(mask, nVocab);
    const words = maskWords(nVocab);
    this.graph.device.queue.writeBuffer(this.sampleMask, 0, mask.buffer, mask.byteOffset, words * 4);
    this.uploadedMask = mask;
  }

  /**
   * Records the step's dispatches and submits them segment by segment: at each host op the commands so far
   * are submitted and awaited, the host op runs, and recording goes on in a new command buffer. `finish`
   * adds the last commands (sampling, readback copies) to the final command buffer, which is submitted
   * and not awaited.
   */
  private async submitForward(step: StepParams, tokens: ArrayLike<number>, finish: (enc: GPUCommandEncoder) => void): Promise<void> {
    const g = this.graph;
    if (tokens.length !== step.n_tokens) throw new Error(`step has ${step.n_tokens} tokens, got ${tokens.length} ids`);
    if (step.n_tokens > g.opts.maxTokens) throw new Error(`step of ${step.n_tokens} tokens exceeds the batch size ${g.opts.maxTokens}`);
    g.device.queue.writeBuffer(g.step, 0, packStep(step));
    g.device.queue.writeBuffer(g.tokenIds, 0, Uint32Array.from(tokens));
    let enc = g.device.createCommandEncoder({ label: 'forward' });
    let pass = enc.beginComputePass({ label: 'forward' });
    for (const op of g.ops) {
      if (isHostOp(op)) {
        pass.end();
        op.prepare?.(enc, step);
        g.device.queue.submit([enc.finish()]);
        await g.device.queue.onSubmittedWorkDone();
        await op.host(step);
        enc = g.device.createCommandEncoder({ label: `forward after ${op.label}` });
        pass = enc.beginComputePass({ label: 'forward' });
        continue;
      }
      const d = op.dispatch(step);
      if (d === null) continue;
      pass.setPipeline(op.pipeline);
      pass.setBindGroup(0, op.bindGroup!);
      if (Array.isArray(d)) {
        if (d[0] === 0 || d[1] === 0) continue;
        pass.dispatchWorkgroups(d[0], d[1], d[2]);
      } else {
        pass.dispatchWorkgroupsIndirect(d.indirect, d.offset);
      }
    }
    pass.end();
    finish(enc);
    g.device.queue.submit([enc.finish()]);
  }

  /**
   * Waits, without polling, for most of the time the submitted step is expected to take. dawn.node polls
   * the event loop while a mapAsync is pending, which on a software adapter takes a core away from the
   * rasterizer threads doing the work; sleeping first leaves only the tail of the step to poll for.
   */
  private async sleepThroughStep(nTokens: number, t0: number): Promise<void> {
    const kind = nTokens === 1 ? 0 : 1;
    const left = this.msPerToken[kind]! * nTokens - (performance.now() - t0);
    if (left > 4) await new Promise((r) => setTimeout(r, left * 0.8));
  }

  private recordStepTime(nTokens: number, ms: number): void {
    const kind = nTokens === 1 ? 0 : 1;
    const perToken = ms / nTokens;
    const prev = this.msPerToken[kind];
    this.msPerToken[kind] = prev === 0 ? perToken : 0.7 * prev + 0.3 * perToken;
  }

  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.busy) throw new Error('GraphRunner is single-flight: await the previous step first');
    this.busy = true;
    try {
      return await fn();
    } finally {
      this.busy = false;
    }
  }

  /** Runs a step and samples one token from the last logits row; NonFiniteLogitsError when the row holds a NaN or an infinity. */
  async stepAndSample(step: StepParams, tokens: ArrayLike<number>, sampling: SamplingParams): Promise<number> {
    return this.exclusive(async () => {
      const g = this.graph;
      if (sampling.mask) this.useMask(sampling.mask);
      g.device.queue.writeBuffer(
        this.sampleParams,
        0,
        packParams([
          g.logitsBuffer.nVocab,
          Math.max(0, Math.floor(sampling.topK)),
          { f32: sampling.topP },
          { f32: sampling.temperature },
          sampling.mask ? 1 : 0,
        ]),
      );
      const t0 = performance.now();
      await this.submitForward(step, tokens, (enc) => {
        const pass = enc.beginComputePass({ label: 'sample' });
        pass.setPipeline(this.samplePipeline);
        pass.setBindGroup(0, this.sampleBindGroup);
        pass.dispatchWorkgroups(1);
        pass.end();
        enc.copyBufferToBuffer(g.sampleOut, 0, this.tokenReadback, 0, 4);
      });
      await this.sleepThroughStep(step.n_tokens, t0);
      await this.tokenReadback.mapAsync(GPUMapMode.READ);
      this.recordStepTime(step.n_tokens, performance.now() - t0);
      const token = new Uint32Array(this.tokenReadback.getMappedRange(0, 4))[0]!;
      this.tokenReadback.unmap();
      return checkSampledToken(token); // NaN/inf logits: NonFiniteLogitsError, not a token id
    });
  }

  /** Runs a step without reading anything back (prefill chunks before the last). */
  async stepOnly(step: StepParams, tokens: ArrayLike<number>): Promise<void> {
    return this.exclusive(async () => {
      const t0 = performance.now();
      await this.submitForward(step, tokens, () => undefined);
      await this.sleepThroughStep(step.n_tokens, t0);
      await this.graph.device.queue.onSubmittedWorkDone();
      this.recordStepTime(step.n_tokens, performance.now() - t0);
    });
  }

  /** Runs a step and returns its logits rows [n_logits, n_vocab]. */
  async stepAndReadLogits(step: StepParams, tokens: ArrayLike<number>): Promise<Float32Array> {
    return this.exclusive(async () => {
      const g = this.graph;
      const { buffer, nVocab } = g.logitsBuffer;
      const bytes = step.n_logits * nVocab * 4;
      if (!this.logitsReadback || this.logitsReadback.size < bytes) {
        this.logitsReadback?.destroy();
        this.logitsReadback = g.device.createBuffer({ label: 'logits_readback', size: buffer.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
      }
      const readback = this.logitsReadback;
      await this.submitForward(step, tokens, (enc) => enc.copyBufferToBuffer(buffer, 0, readback, 0, bytes));
      await readback.mapAsync(GPUMapMode.READ, 0, bytes);
      const out = new Float32Array(readback.getMappedRange(0, bytes).slice(0));
      readback.unmap();
      return out;
    });
  }

  destroy(): void {
    this.sampleParams.destroy();
    this.tokenReadback.destroy();
    this.sampleMask.destroy();
    this.logitsReadback?.destroy();
  }
}
