/**
 * The GPU backend's expert executor for models whose experts do not all fit the GPU budget
 * (model/placement.ts). A MoE layer with fewer GPU slots than experts runs as
 *
 *   GPU segment   …, router logits, top-k (ids, weights)            → copies of ids and x to a readback buffer
 *   host op       run(): reads them back; for each routed expert the layer's cache (model/expert-cache-policy.ts)
 *                 says: in a slot (a hit), upload into a slot now, or compute on the CPU; uploads are written
 *                 into the slot's buffers (WeightStore.fill) while the CPU expert service computes the others;
 *                 the slot of every (token, choice) goes to `slotIds` (NO_SLOT for the CPU), the CPU outputs
 *                 into their rows of the expert output (ffn_moe_down); then the next layer's routing is
 *                 predicted (its router on this hidden state) and predicted experts may start uploading
 *   GPU segment   moe_group by slot, the slots' gather matmuls, GLU, down, moe_combine (all k rows per token)
 *
 * Layers whose experts all fit keep the graph of a fully resident model (no host op). Uploads into a slot
 * are queue writes: GPU work submitted afterwards sees them, and nothing in flight reads that slot (a
 * layer's slots are only read after its own host op).
 */
import { readTensorBytes, type GgufFile } from '../gguf/gguf-reader.js';
import { dequantizeRow } from '../gguf/quantize.js';
import { CpuExpertService, type ExpertTask } from '../cpu/expert-service.js';
import { DEFAULT_CACHE_POLICY, LayerExpertCache, type CachePolicyOptions, type SlotUpload } from '../model/expert-cache-policy.js';
import type { ModelConfig } from '../model/hparams.js';
import type { ModelWeights } from '../model/model-weights.js';
import { emptyOffloadReport, type OffloadReport } from '../model/offload-stats.js';
import type { Placement } from '../model/placement.js';
import { routeTokens, routingParams, type RoutingParams } from '../model/routing.js';
import type { ExpertWeights, VectorHandle, WeightHandle } from '../model/weights.js';
import type { StepParams } from './kernels.js';
import type { GpuMatrix, WeightStore } from './weight-store.js';

/** The slot id of a (token, choice) computed on the CPU: moe_group skips it. */
export const NO_SLOT = 0xffffffff;

/** Most tokens of a step whose next-layer routing is predicted (evenly spaced), to bound host work. */
const PREDICT_TOKENS = 16;

/** What an upload costs in CPU expert-tokens until both are measured. */
const DEFAULT_UPLOAD_COST = 4;

const r16 = (n: number) => Math.max(16, Math.ceil(n / 16) * 16);

/** Where x starts in the readback buffer (after the ids; getMappedRange offsets are multiples of 8). */
const readbackXOffset = (maxTokens: number, k: number) => Math.ceil((maxTokens * k * 4) / 8) * 8;

/** GPU bytes of the executor's own buffers: slot ids, and the readback of ids and x. */
export function executorBufferBytes(maxTokens: number, k: number, nEmbd: number): number {
  return r16(maxTokens * k * 4) + r16(readbackXOffset(maxTokens, k) + maxTokens * nEmbd * 4);
}

export interface ExpertSlot {
  gate: GpuMatrix;
  up: GpuMatrix;
  down: GpuMatrix;
}

/** A MoE layer with host experts, as the graph records it: its GPU slots (possibly none). */
export interface OffloadedLayer {
  il: number;
  slots: ExpertSlot[];
}

/** The GPU buffers of a layer's MoE the host op reads and writes (acts resolve at finalize). */
export interface MoeBuffers {
  ids: GPUBuffer;
  x: () => GPUBuffer;
  eout: () => GPUBuffer;
}

export interface ExpertExecutorOptions {
  maxTokens: number;
  /** Threads of the CPU expert service (0: physical cores). */
  threads?: number;
  /** Host memory for experts outside the GPU. */
  hostCacheBytes: number;
  policy?: Partial<CachePolicyOptions>;
}

interface LayerState {
  il: number;
  experts: ExpertWeights;
  slots: ExpertSlot[];
  cache: LayerExpertCache;
  /** The next layer with host experts (its routing is predicted here), or -1. */
  next: number;
  /** This layer's routing as predicted one layer earlier: per sampled token, its expert set. */
  predicted?: { n: number; tokens: number[]; ids: Uint32Array };
}

/** Host copies for predicting a layer's routing: its router [n_expert, n_embd] and FFN norm weights. */
interface RouterCopy {
  router: Float32Array;
  norm: Float32Array;
}

export class ExpertExecutor {
  readonly slotIds: GPUBuffer;
  private readonly readback: GPUBuffer;
  private readonly layers: (LayerState | undefined)[];
  private readonly byExperts = new Map<ExpertWeights, LayerState>();
  private readonly routers = new Map<number, RouterCopy>();
  private readonly routing: RoutingParams;
  private readonly r: OffloadReport;
  /** Uploads started by a prefetch, awaited before the next host op decides anything. */
  private pending: Promise<void> = Promise.resolve();
  private transferError: Error | undefined;
  private readonly residentMoeLayers: number;
  private readonly k: number;
  private readonly nEmbd: number;
  /** Measured costs (EWMA, ms): one expert upload, and one token of one expert on the CPU (decode steps). */
  private uploadMs = 0;
  private cpuMsPerToken = 0;
  /** The policy's fixed upload cost, or undefined: measured (uploadMs / cpuMsPerToken). */
  private fixedUploadCost: number | undefined;

  private constructor(
    private readonly device: GPUDevice,
    private readonly store: WeightStore,
    cfg: ModelConfig,
    private readonly placement: Placement,
    private cpu: CpuExpertService | null,
    private readonly maxTokens: number,
    layers: (LayerState | undefined)[],
  ) {
    this.k = cfg.n_expert_used;
    this.nEmbd = cfg.n_embd;
    this.layers = layers;
    for (const l of layers) if (l) this.byExperts.set(l.experts, l);
    this.routing = routingParams(cfg);
    this.slotIds = device.createBuffer({ label: 'moe_slot_ids', size: r16(maxTokens * this.k * 4), usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
    this.readback = device.createBuffer({ label: 'moe_readback', size: r16(readbackXOffset(maxTokens, this.k) + maxTokens * this.nEmbd * 4), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    this.r = emptyOffloadReport(placement.experts.gpu, placement.experts.total);
    this.residentMoeLayers = placement.slots.filter((s, il) => s > 0 && !layers[il]).length;
  }

  /**
   * Allocates the slots of every layer with host experts and fills them (slot s starts with expert s),
   * copies the routers and norms the prediction needs, and starts the CPU expert service.
   */
  static async create(device: GPUDevice, store: WeightStore, file: GgufFile, cfg: ModelConfig, weights: ModelWeights, placement: Placement, o: ExpertExecutorOptions): Promise<ExpertExecutor> {
    const policy = { ...DEFAULT_CACHE_POLICY, ...o.policy };
    const layers: (LayerState | undefined)[] = weights.layers.map(() => undefined);
    const hostLayers: number[] = [];
    weights.layers.forEach((lw, il) => {
      const e = lw.experts;
      if (!e || placement.slots[il]! >= e.up.length) return;
      hostLayers.push(il);
      layers[il] = { il, experts: e, slots: [], cache: new LayerExpertCache(e.up.length, placement.slots[il]!, policy), next: -1 };
    });
    for (let i = 0; i + 1 < hostLayers.length; i++) layers[hostLayers[i]!]!.next = hostLayers[i + 1]!;
    let cpu: CpuExpertService | null = null;
    const x = new ExpertExecutor(device, store, cfg, placement, null, o.maxTokens, layers);
    x.fixedUploadCost = policy.uploadCostTokens;
    x.setUploadCost(policy.uploadCostTokens ?? DEFAULT_UPLOAD_COST);
    try {
      for (const l of layers) {
        if (!l) continue;
        for (let s = 0; s < placement.slots[l.il]!; s++) {
          const slot: ExpertSlot = {
            gate: store.allocate(l.experts.gate[0]!, `blk.${l.il}.ffn_gate_exps.slot${s}`),
            up: store.allocate(l.experts.up[0]!, `blk.${l.il}.ffn_up_exps.slot${s}`),
            down: store.allocate(l.experts.down[0]!, `blk.${l.il}.ffn_down_exps.slot${s}`),
          };
          await x.fillSlot(l, l.cache.expertIn(s), slot);
          l.slots.push(slot);
        }
      }
      for (const il of hostLayers) x.routers.set(il, await routerCopy(file, weights.layers[il]!.router!, weights.layers[il]!.ffn_norm, cfg));
      cpu = await CpuExpertService.start(file, cfg, weights, hostLayers, { threads: o.threads, hostCacheBytes: o.hostCacheBytes, maxTokens: o.maxTokens });
      x.cpu = cpu;
      return x;
    } catch (e) {
      await cpu?.dispose();
      x.destroyBuffers();
      throw e;
    }
  }

  /** The layer these experts belong to when some of them live on the host, else undefined (fully resident). */
  layer(experts: ExpertWeights): OffloadedLayer | undefined {
    const l = this.byExperts.get(experts);
    return l ? { il: l.il, slots: l.slots } : undefined;
  }

  private async fillSlot(l: LayerState, expert: number, slot: ExpertSlot): Promise<number> {
    if (expert < 0) return 0;
    await this.store.fill(l.experts.gate[expert]!, slot.gate);
    await this.store.fill(l.experts.up[expert]!, slot.up);
    await this.store.fill(l.experts.down[expert]!, slot.down);
    return this.placement.slotBytes[l.il]!;
  }

  private setUploadCost(tokens: number): void {
    for (const l of this.layers) if (l) l.cache.uploadCost = tokens;
  }

  /** Folds a measurement into the costs and, unless fixed, updates what an upload costs in CPU tokens. */
  private measured(kind: 'upload' | 'cpu', ms: number): void {
    const ewma = (prev: number) => (prev === 0 ? ms : 0.8 * prev + 0.2 * ms);
    if (kind === 'upload') this.uploadMs = ewma(this.uploadMs);
    else this.cpuMsPerToken = ewma(this.cpuMsPerToken);
    if (this.fixedUploadCost === undefined && this.uploadMs > 0 && this.cpuMsPerToken > 0) this.setUploadCost(this.uploadMs / this.cpuMsPerToken);
  }

  private async upload(l: LayerState, u: SlotUpload): Promise<void> {
    try {
      const t0 = performance.now();
      this.r.uploadedBytes += await this.fillSlot(l, u.expert, l.slots[u.slot]!);
      this.measured('upload', performance.now() - t0);
      this.r.uploads++;
      if (u.reason === 'prefetch') this.r.prefetches++;
    } catch (e) {
      l.cache.emptySlot(u.slot);
      throw e;
    }
  }

  /** Records, at the end of the layer's first segment, the copies of ids and x the host op reads. */
  prepare(enc: GPUCommandEncoder, s: StepParams, b: MoeBuffers): void {
    const n = s.n_tokens;
    enc.copyBufferToBuffer(b.ids, 0, this.readback, 0, n * this.k * 4);
    enc.copyBufferToBuffer(b.x(), 0, this.readback, readbackXOffset(this.maxTokens, this.k), n * this.nEmbd * 4);
  }

  /** The host op of layer `il` (see the file comment). */
  async run(il: number, s: StepParams, b: MoeBuffers): Promise<void> {
    const l = this.layers[il];
    if (!l) throw new Error(`layer ${il} has no host experts`);
    await this.pending;
    if (this.transferError) {
      const e = this.transferError;
      this.transferError = undefined;
      throw e;
    }
    const n = s.n_tokens;
    const k = this.k;
    const E = this.nEmbd;
    const xOffset = readbackXOffset(this.maxTokens, k);
    await this.readback.mapAsync(GPUMapMode.READ, 0, xOffset + n * E * 4);
    const ids = new Uint32Array(this.readback.getMappedRange(0, n * k * 4).slice(0));
    const x = new Float32Array(this.readback.getMappedRange(xOffset, n * E * 4).slice(0));
    this.readback.unmap();
    this.scorePrediction(l, ids, n);

    const tokens = new Int32Array(l.experts.up.length);
    for (let i = 0; i < n * k; i++) {
      const e = ids[i]!;
      if (e >= tokens.length) throw new Error(`layer ${il}: routed to expert ${e} of ${tokens.length}`);
      tokens[e]!++;
    }
    const plan = l.cache.planStep(tokens);
    const sum = (es: number[]) => es.reduce((a, e) => a + tokens[e]!, 0);
    this.r.choices += n * k;
    this.r.hits += sum(plan.resident);
    this.r.cpu += sum(plan.cpu);
    this.r.uploaded += sum(plan.uploads.map((u) => u.expert));

    const slotIds = new Uint32Array(n * k);
    for (let i = 0; i < n * k; i++) {
      const slot = plan.slotOf[ids[i]!]!;
      slotIds[i] = slot >= 0 ? slot : NO_SLOT;
    }
    this.device.queue.writeBuffer(this.slotIds, 0, slotIds);

    // the CPU computes its experts while this thread writes the uploads into their slots
    const tasks: (ExpertTask & { choices: number[] })[] = plan.cpu.map((e) => ({ expert: e, rows: [], choices: [] }));
    const taskOf = new Map(tasks.map((t) => [t.expert, t]));
    for (let i = 0; i < n * k; i++) {
      const t = taskOf.get(ids[i]!);
      if (t) {
        (t.rows as number[]).push(Math.floor(i / k));
        t.choices.push(i);
      }
    }
    const t0 = performance.now();
    const computed = tasks.length ? this.cpu!.run(il, x, n, tasks) : Promise.resolve(new Float32Array(0));
    computed.catch(() => undefined);
    // a decode step's CPU time per expert-token (its cost does not shrink with more rows per expert)
    if (n === 1 && tasks.length) void computed.then(() => this.measured('cpu', (performance.now() - t0) / tasks.length), () => undefined);
    try {
      for (const u of plan.uploads) await this.upload(l, u);
    } catch (e) {
      await computed.catch(() => undefined); // the CPU job finishes before the step fails, so the service is free again
      throw e;
    }
    this.prefetch(l, x, n);
    const out = await computed;
    this.writeCpuRows(out, tasks, b.eout());
  }

  /** Writes the CPU experts' outputs into their (token, choice) rows of the expert output, in contiguous runs. */
  private writeCpuRows(out: Float32Array, tasks: { choices: number[] }[], eout: GPUBuffer): void {
    const E = this.nEmbd;
    const rows: [number, number][] = []; // (choice row, output row)
    let o = 0;
    for (const t of tasks) for (const c of t.choices) rows.push([c, o++]);
    rows.sort((a, b) => a[0] - b[0]);
    for (let i = 0; i < rows.length; ) {
      let j = i + 1;
      while (j < rows.length && rows[j]![0] === rows[j - 1]![0] + 1) j++;
      const run = new Float32Array((j - i) * E);
      for (let r = i; r < j; r++) run.set(out.subarray(rows[r]![1] * E, (rows[r]![1] + 1) * E), (r - i) * E);
      this.device.queue.writeBuffer(eout, rows[i]![0] * E * 4, run);
      i = j;
    }
  }

  /** Counts how many of the layer's routed choices its prediction named. */
  private scorePrediction(l: LayerState, ids: Uint32Array, n: number): void {
    const p = l.predicted;
    l.predicted = undefined;
    if (!p || p.n !== n) return;
    const k = this.k;
    p.tokens.forEach((t, i) => {
      for (let j = 0; j < k; j++) {
        const want = ids[t * k + j]!;
        let named = false;
        for (let q = 0; q < k; q++) if (p.ids[i * k + q] === want) named = true;
        this.r.predicted++;
        if (named) this.r.predictedRight++;
      }
    });
  }

  /**
   * Predicts the next host layer's routing from this layer's FFN input x (rms_norm(h)·w_il): divided by
   * this layer's norm weights and multiplied by the next one's, it is what the next layer's router would
   * see if the hidden state did not change in between. Starts the uploads its cache finds worth it.
   */
  private prefetch(l: LayerState, x: Float32Array, n: number): void {
    if (l.next < 0) return;
    const next = this.layers[l.next]!;
    const src = this.routers.get(l.il)!;
    const dst = this.routers.get(l.next)!;
    const E = this.nEmbd;
    const nExpert = next.experts.up.length;
    const tokens = sampleTokens(n, PREDICT_TOKENS);
    const logits = new Float32Array(tokens.length * nExpert);
    const z = new Float32Array(E);
    tokens.forEach((t, i) => {
      for (let c = 0; c < E; c++) {
        const w = src.norm[c]!;
        z[c] = w !== 0 ? (x[t * E + c]! / w) * dst.norm[c]! : 0;
      }
      for (let e = 0; e < nExpert; e++) {
        let acc = 0;
        const row = e * E;
        for (let c = 0; c < E; c++) acc += dst.router[row + c]! * z[c]!;
        logits[i * nExpert + e] = acc;
      }
    });
    const { ids } = routeTokens(logits, tokens.length, this.routing);
    next.predicted = { n, tokens, ids };
    const counts = new Float64Array(nExpert);
    for (const e of ids) counts[e]! += n / tokens.length;
    const accuracy = (this.r.predictedRight + 1) / (this.r.predicted + 2);
    const uploads = next.cache.planPrefetch(counts, accuracy);
    for (const u of uploads) {
      this.pending = this.pending.then(() => this.upload(next, u)).catch((e: Error) => {
        this.transferError ??= e;
      });
    }
  }

  /** A step of `nTokens` tokens starts: layers whose experts all fit count their choices as hits. */
  onStep(nTokens: number): void {
    for (const l of this.layers) if (l) l.predicted = undefined; // predictions of a step that failed midway
    this.r.tokens += nTokens;
    this.r.choices += nTokens * this.k * this.residentMoeLayers;
    this.r.hits += nTokens * this.k * this.residentMoeLayers;
  }

  get report(): OffloadReport {
    const h = this.cpu?.stats;
    return { ...this.r, hostLoads: h?.loads ?? 0, hostHits: h?.hits ?? 0, hostBytesRead: h?.bytesRead ?? 0 };
  }

  private destroyBuffers(): void {
    this.slotIds.destroy();
    this.readback.destroy();
  }

  async dispose(): Promise<void> {
    await this.pending;
    await this.cpu?.dispose();
    this.destroyBuffers();
  }
}

/** Up to `most` token indices of 0..n-1, evenly spaced, the last one included. */
export function sampleTokens(n: number, most: number): number[] {
  if (n <= most) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: most }, (_, i) => Math.round(((i + 1) * n) / most) - 1);
}

async function routerCopy(file: GgufFile, router: WeightHandle, norm: VectorHandle, cfg: ModelConfig): Promise<RouterCopy> {
  const read = async (tensor: string, n: number): Promise<Float32Array> => {
    const t = file.tensorByName.get(tensor);
    if (!t) throw new Error(`tensor ${tensor} is missing`);
    return Float32Array.from(dequantizeRow(t.type, await readTensorBytes(file, t), n)); // from the split part that holds it
  };
  return { router: await read(router.tensor, router.rows * router.cols), norm: await read(norm.tensor, cfg.n_embd) };
}
