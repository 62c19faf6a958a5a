/**
 * The WebGPU implementation of ForwardOps. The forward pass is recorded once, at load time, into a list of
 * dispatches with their pipelines and bind groups; every buffer is allocated for the largest batch, and
 * what changes per step (token count, positions, KV slot, seed) lives in one small uniform. A step runs as
 * segments: the dispatches up to a host op go into one command buffer, the host op runs on the CPU (it
 * may read and write GPU buffers), then the next segment (see graph-runner.ts). Weight handles resolve to
 * the GPU copies in the WeightStore.
 */
import { GgmlType } from '../gguf/ggml-types.js';
import type {
  Act,
  AttentionParams,
  ExpertWeights,
  ForwardOps,
  GluActivation,
  RopeParams,
  RoutingAct,
  VectorHandle,
  WeightHandle,
} from '../model/forward-ops.js';
import type { RoutingParams } from '../model/routing.js';
import { type KernelName, KernelRegistry, type ParamField, type StepParams, uniformBuffer } from './kernels.js';
import { geluF16Table } from '../model/gelu-table.js';
import { ropeTable } from '../model/rope-table.js';
import type { GpuMatrix, GpuShard, WeightStore } from './weight-store.js';
import type { ExpertExecutor } from './expert-executor.js';

export type Dispatch = [number, number, number] | { indirect: GPUBuffer; offset: number } | null;

export interface RecordedOp {
  label: string;
  pipeline: GPUComputePipeline;
  entries: () => GPUBindGroupEntry[];
  bindGroup?: GPUBindGroup;
  dispatch: (s: StepParams) => Dispatch;
}

/**
 * Work on the host between two GPU segments of a step: the runner submits what was recorded before it,
 * waits for the GPU, runs `run`, and records what follows into a new command buffer.
 */
export interface HostOp {
  label: string;
  /** Records commands (e.g. copies to a readback buffer) at the end of the segment before the host op. */
  prepare?: (enc: GPUCommandEncoder, s: StepParams) => void;
  host: (s: StepParams) => Promise<void>;
}

export type GraphOp = RecordedOp | HostOp;

export const isHostOp = (op: GraphOp): op is HostOp => 'host' in op;

export interface GraphOptions {
  /** Largest number of tokens in one step (prefill chunk). */
  maxTokens: number;
  /** Context length of each KV slot. */
  nCtx: number;
  /** Number of independent KV slots (sequences). */
  nSlots: number;
  /** Largest number of logits rows one step produces (1 for generation; maxTokens for evaluation). */
  maxLogitRows: number;
  rope: { freqBase: number; freqScale: number; attnFactor: number };
  /** Evaluate GELU through f16 like ggml's CPU backend (default true). */
  geluF16: boolean;
}

interface ActInfo extends Act {
  buffer?: GPUBuffer;
  /** Rows this act must hold: maxTokens * rowsPerToken (or maxLogitRows for logits). */
  rows: number;
}

type MatmulMode =
  | { kind: 'tokens' }
  | { kind: 'logits' }
  | { kind: 'gather'; expert: number; div: number; argsSlot: 0 | 1 };

const WG = 64;
const ceil = (a: number, b: number) => Math.ceil(a / b);

/** A 1-D grid of `n` invocations, folded into y past 65535 workgroups (kernels use gid.x + gid.y * 65535 * WG). */
function grid(n: number, wg = WG): [number, number, number] {
  const g = Math.max(ceil(n, wg), 0);
  return g <= 65535 ? [g, 1, 1] : [65535, ceil(g, 65535), 1];
}

const MATMUL_KERNEL: Partial<Record<GgmlType, KernelName>> = {
  [GgmlType.F32]: 'matmul_f32',
  [GgmlType.F16]: 'matmul_f16',
  [GgmlType.Q8_0]: 'matmul_q8_0',
  [GgmlType.Q4_0]: 'matmul_q4_0',
};

const isQuant = (t: GgmlType) => t === GgmlType.Q8_0 || t === GgmlType.Q4_0;

export class GraphBuilder implements ForwardOps {
  readonly ops: GraphOp[] = [];
  readonly step: GPUBuffer;
  readonly tokenIds: GPUBuffer;
  readonly sampleOut: GPUBuffer;
  private readonly acts = new Map<string, ActInfo>();
  private readonly owned: GPUBuffer[] = [];
  private readonly kv = new Map<number, { k: GPUBuffer; v: GPUBuffer }>();
  private ropeCs?: { nRot: number; buffer: GPUBuffer };
  private quantized: { act: Act; mode: 'tokens' | 'logits' } | null = null;
  private xqWords = 4;
  private xq?: GPUBuffer;
  private xd?: GPUBuffer;
  private dummy: GPUBuffer;
  private moeScratch?: { ids: GPUBuffer; weights: GPUBuffer; counts: GPUBuffer; lists: GPUBuffer; args: GPUBuffer; k: number; nExpert: number };
  private logitsAct?: ActInfo;
  finalized = false;
  /** Runs MoE layers whose experts do not all fit the GPU (set before recording; absent: all resident). */
  expertExecutor?: ExpertExecutor;

  constructor(
    readonly device: GPUDevice,
    readonly kernels: KernelRegistry,
    readonly opts: GraphOptions,
    private readonly weights: WeightStore,
  ) {
    this.step = this.buffer('step', 32, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.tokenIds = this.buffer('token_ids', opts.maxTokens * 4, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    this.sampleOut = this.buffer('sample_out', 16, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC);
    this.dummy = this.buffer('unused', 16, GPUBufferUsage.STORAGE);
  }

  private buffer(label: string, size: number, usage: number): GPUBuffer {
    const b = this.device.createBuffer({ label, size: Math.max(16, Math.ceil(size / 16) * 16), usage });
    this.owned.push(b);
    return b;
  }

  private uniform(label: string, fields: ParamField[]): GPUBuffer {
    const b = uniformBuffer(this.device, label, fields);
    this.owned.push(b);
    return b;
  }

  private record(op: GraphOp): void {
    if (this.finalized) throw new Error('graph already finalized');
    this.ops.push(op);
  }

  /** Records host work between GPU segments (see HostOp). */
  host(label: string, run: (s: StepParams) => Promise<void>, prepare?: HostOp['prepare']): void {
    this.record({ label, host: run, prepare });
  }

  /** The GPU buffer behind an activation (valid after finalize()), for host ops. */
  actBuffer(a: Act): GPUBuffer {
    return this.buf(a);
  }

  private buf(a: Act): GPUBuffer {
    const info = this.acts.get(a.label);
    if (!info?.buffer) throw new Error(`activation ${a.label} is not allocated`);
    return info.buffer;
  }

  /** Marks an activation as overwritten (its Q8 copy, if any, is stale). */
  private wrote(a: Act): void {
    if (this.quantized?.act.label === a.label) this.quantized = null;
  }

  act(label: string, cols: number, rowsPerToken = 1): Act {
    const existing = this.acts.get(label);
    if (existing) {
      if (existing.cols !== cols || existing.rowsPerToken !== rowsPerToken) {
        throw new Error(`activation ${label} redeclared as [${rowsPerToken}x, ${cols}] (was [${existing.rowsPerToken}x, ${existing.cols}])`);
      }
      return existing;
    }
    const info: ActInfo = { label, cols, rowsPerToken, rows: this.opts.maxTokens * rowsPerToken };
    this.acts.set(label, info);
    return info;
  }

  // --- ops -------------------------------------------------------------------------------------------

  embed(handle: WeightHandle, out: Act, scale: number): void {
    const table = this.weights.uploaded(handle);
    for (const shard of table.shards) {
      const params = this.uniform(`embed.${table.name}`, [table.cols, shard.rowStart, shard.rows, table.type, shard.scalesOffset / 4, { f32: scale }]);
      this.record({
        label: `get_rows ${table.name}`,
        pipeline: this.kernels.pipeline('get_rows'),
        entries: () => [this.u(0, this.step), this.u(1, params), this.s(2, shard.buffer), this.s(3, this.tokenIds), this.s(4, this.buf(out))],
        dispatch: (s) => grid(s.n_tokens * table.cols),
      });
    }
    this.wrote(out);
  }

  rmsNorm(x: Act, handle: VectorHandle | null, out: Act, eps: number): void {
    const weight = handle ? this.weights.uploadedVector(handle) : null;
    const params = this.uniform('rms_norm', [x.cols, x.rowsPerToken, weight ? 1 : 0, { f32: eps }]);
    this.record({
      label: `rms_norm ${x.label} -> ${out.label}`,
      pipeline: this.kernels.pipeline('rms_norm', 'main'),
      entries: () => [
        this.u(0, this.step),
        this.u(1, params),
        this.s(2, weight?.buffer ?? this.dummy),
        this.s(3, this.buf(x)),
        this.s(4, this.buf(out)),
      ],
      dispatch: (s) => grid(s.n_tokens * x.rowsPerToken),
    });
    this.wrote(out);
  }

  rmsNormRows(b: Act, rowLen: number, handle: VectorHandle | null, eps: number): void {
    const weight = handle ? this.weights.uploadedVector(handle) : null;
    if (b.cols % rowLen) throw new Error(`${b.label}: ${b.cols} columns is not a whole number of ${rowLen}-wide rows`);
    const perToken = (b.cols / rowLen) * b.rowsPerToken;
    const params = this.uniform('rms_norm_rows', [rowLen, perToken, weight ? 1 : 0, { f32: eps }]);
    this.record({
      label: `rms_norm_rows ${b.label}`,
      pipeline: this.kernels.pipeline('rms_norm', 'main_inplace'),
      entries: () => [this.u(0, this.step), this.u(1, params), this.s(2, weight?.buffer ?? this.dummy), this.s(5, this.buf(b))],
      dispatch: (s) => grid(s.n_tokens * perToken),
    });
    this.wrote(b);
  }

  matmul(w: WeightHandle, x: Act, y: Act): void {
    this.recordMatmul(this.weights.uploaded(w), x, y, { kind: 'tokens' });
  }

  private ensureQuantized(x: Act, mode: 'tokens' | 'logits'): void {
    if (this.quantized && this.quantized.act.label === x.label && this.quantized.mode === mode) return;
    if (x.cols % 32) throw new Error(`${x.label}: ${x.cols} columns cannot be quantised to Q8_0 blocks`);
    this.xqWords = Math.max(this.xqWords, (this.opts.maxTokens * x.rowsPerToken * x.cols) / 4);
    const params = this.uniform('quantize_q8_0', [x.cols, x.rowsPerToken, mode === 'logits' ? 1 : 0]);
    this.record({
      label: `quantize_q8_0 ${x.label}`,
      pipeline: this.kernels.pipeline('quantize_q8_0'),
      entries: () => [this.u(0, this.step), this.u(1, params), this.s(2, this.buf(x)), this.s(3, this.xq!), this.s(4, this.xd!)],
      dispatch: (s) => grid(((mode === 'logits' ? s.n_logits : s.n_tokens * x.rowsPerToken) * x.cols) / 32),
    });
    this.quantized = { act: x, mode };
  }

  private recordMatmul(w: GpuMatrix, x: Act, y: Act, mode: MatmulMode): void {
    const kernel = MATMUL_KERNEL[w.type];
    if (!kernel) throw new Error(`no matmul kernel for ${w.name} (type ${w.type})`);
    if (w.cols !== x.cols) throw new Error(`${w.name} expects ${w.cols} inputs, ${x.label} has ${x.cols}`);
    if (w.rows > y.cols) throw new Error(`${w.name} has ${w.rows} outputs, ${y.label} has ${y.cols} columns`);
    const quant = isQuant(w.type);
    if (quant) this.ensureQuantized(x, mode.kind === 'logits' ? 'logits' : 'tokens');
    const modeNum = mode.kind === 'tokens' ? 0 : mode.kind === 'logits' ? 1 : 2;
    const scratch = mode.kind === 'gather' ? this.moeScratch! : undefined;
    for (const shard of w.shards) {
      const params = this.uniform(`matmul ${w.name}`, [
        w.cols,
        shard.rows,
        y.cols,
        shard.rowStart,
        x.cols,
        modeNum,
        mode.kind === 'gather' ? mode.div : 1,
        mode.kind === 'gather' ? mode.expert * this.opts.maxTokens : 0,
        mode.kind === 'gather' ? mode.expert : 0,
        shard.scalesOffset / 4,
      ]);
      const rowGroups = ceil(shard.rows, 4 * WG);
      this.record({
        label: `${kernel} ${w.name}${w.shards.length > 1 ? `.rows${shard.rowStart}` : ''}`,
        pipeline: this.kernels.pipeline(kernel),
        entries: () => this.matmulEntries(params, shard, x, y, quant, scratch),
        dispatch:
          mode.kind === 'gather'
            ? () => ({ indirect: scratch!.args, offset: (mode.expert * 6 + mode.argsSlot * 3) * 4 })
            : (s) => [rowGroups, ceil(mode.kind === 'logits' ? s.n_logits : s.n_tokens * x.rowsPerToken, 4), 1],
      });
    }
    this.wrote(y);
  }

  private matmulEntries(params: GPUBuffer, shard: GpuShard, x: Act, y: Act, quant: boolean, scratch?: { lists: GPUBuffer; counts: GPUBuffer }): GPUBindGroupEntry[] {
    const e = [
      this.u(0, this.step),
      this.u(1, params),
      this.s(2, shard.buffer),
      this.s(3, quant ? this.xq! : this.buf(x)),
      this.s(4, this.buf(y)),
      this.s(5, scratch?.lists ?? this.dummy),
      this.s(6, scratch?.counts ?? this.dummy),
    ];
    if (quant) e.push(this.s(7, this.xd!));
    return e;
  }

  private geluTableBuffer?: GPUBuffer;

  private geluTable(): GPUBuffer {
    if (!this.geluTableBuffer) {
      const table = geluF16Table();
      this.geluTableBuffer = this.buffer('gelu_f16_table', table.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
      this.device.queue.writeBuffer(this.geluTableBuffer, 0, table);
    }
    return this.geluTableBuffer;
  }

  private ropeTableBuffer(nRot: number): GPUBuffer {
    if (this.ropeCs) {
      if (this.ropeCs.nRot !== nRot) throw new Error('layers with different n_rot are not supported');
      return this.ropeCs.buffer;
    }
    const table = ropeTable(this.opts.nCtx, nRot, this.opts.rope.freqBase, this.opts.rope.freqScale, this.opts.rope.attnFactor);
    const buffer = this.buffer('rope_cos_sin', table.byteLength, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST);
    this.device.queue.writeBuffer(buffer, 0, table);
    this.ropeCs = { nRot, buffer };
    return buffer;
  }

  ropeInPlace(q: Act, p: RopeParams): void {
    const cs = this.ropeTableBuffer(p.n_rot);
    const params = this.uniform('rope', [p.n_head, p.head_dim, p.n_rot, p.mode === 'neox' ? 1 : 0]);
    this.record({
      label: `rope ${q.label}`,
      pipeline: this.kernels.pipeline('rope', 'main_inplace'),
      entries: () => [this.u(0, this.step), this.u(1, params), this.s(2, cs), this.s(3, this.buf(q))],
      dispatch: (s) => grid(s.n_tokens * p.n_head * (p.n_rot / 2)),
    });
    this.wrote(q);
  }

  private kvCache(il: number, kCols: number, vCols: number): { k: GPUBuffer; v: GPUBuffer } {
    let c = this.kv.get(il);
    if (!c) {
      const rows = this.opts.nSlots * this.opts.nCtx;
      const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      const max = this.device.limits.maxStorageBufferBindingSize;
      if (rows * Math.max(kCols, vCols) * 4 > max) {
        throw new Error(`the KV cache of one layer (${this.opts.nSlots} slots x ${this.opts.nCtx} positions) exceeds the binding limit of ${max} bytes: use a shorter context or fewer slots`);
      }
      c = { k: this.buffer(`blk.${il}.cache_k`, rows * kCols * 4, usage), v: this.buffer(`blk.${il}.cache_v`, rows * vCols * 4, usage) };
      this.kv.set(il, c);
    }
    return c;
  }

  storeKv(il: number, k: Act, v: Act, p: RopeParams, headDimV: number): void {
    const cache = this.kvCache(il, k.cols, v.cols);
    const cs = this.ropeTableBuffer(p.n_rot);
    const rp = this.uniform('rope_k', [p.n_head, p.head_dim, p.n_rot, p.mode === 'neox' ? 1 : 0]);
    this.record({
      label: `rope ${k.label} -> blk.${il}.cache_k`,
      pipeline: this.kernels.pipeline('rope', 'main_to_cache'),
      entries: () => [this.u(0, this.step), this.u(1, rp), this.s(2, cs), this.s(4, this.buf(k)), this.s(5, cache.k)],
      dispatch: (s) => grid(s.n_tokens * k.cols),
    });
    const cp = this.uniform('copy_rows', [v.cols]);
    if (v.cols % 4 || headDimV % 4) throw new Error('value head size must be a multiple of 4');
    this.record({
      label: `copy ${v.label} -> blk.${il}.cache_v`,
      pipeline: this.kernels.pipeline('copy_rows'),
      entries: () => [this.u(0, this.step), this.u(1, cp), this.s(2, this.buf(v)), this.s(3, cache.v)],
      dispatch: (s) => grid((s.n_tokens * v.cols) / 4),
    });
  }

  attention(il: number, q: Act, out: Act, p: AttentionParams): void {
    const cache = this.kv.get(il);
    if (!cache) throw new Error(`attention on layer ${il} before its KV cache was written`);
    if (p.head_dim_k > 256 || p.head_dim_v > 256 || p.head_dim_k % 4 || p.head_dim_v % 4) {
      throw new Error(`head sizes ${p.head_dim_k}/${p.head_dim_v} are not supported (multiples of 4, at most 256)`);
    }
    const params = this.uniform('attention', [p.n_head, p.n_head_kv, p.head_dim_k, p.head_dim_v, { f32: p.scale }, { f32: p.softcap }]);
    this.record({
      label: `attention blk.${il}`,
      pipeline: this.kernels.pipeline('attention'),
      entries: () => [
        this.u(0, this.step),
        this.u(1, params),
        this.s(2, this.buf(q)),
        this.s(3, cache.k),
        this.s(4, cache.v),
        this.s(5, this.buf(out)),
      ],
      dispatch: (s) => grid(s.n_tokens * p.n_head, 32),
    });
    this.wrote(out);
  }

  glu(gate: Act, up: Act, act: GluActivation): void {
    const params = this.uniform('glu', [gate.cols, gate.rowsPerToken, act === 'gelu' ? 1 : 0, this.opts.geluF16 ? 1 : 0]);
    this.record({
      label: `glu ${gate.label}`,
      pipeline: this.kernels.pipeline('glu'),
      entries: () => [this.u(0, this.step), this.u(1, params), this.s(2, this.buf(gate)), this.s(3, this.buf(up)), this.s(4, this.geluTable())],
      dispatch: (s) => grid(s.n_tokens * gate.rowsPerToken * gate.cols),
    });
    this.wrote(gate);
  }

  add(dst: Act, src: Act, scale = 1): void {
    this.recordAdd(dst, src, scale, null);
  }

  addGated(dst: Act, src: Act, gate: Act): void {
    if (gate.cols !== 1) throw new Error(`${gate.label}: a gate has one column per token, not ${gate.cols}`);
    this.recordAdd(dst, src, 1, gate);
  }

  private recordAdd(dst: Act, src: Act, scale: number, gate: Act | null): void {
    const params = this.uniform('add', [dst.cols, { f32: scale }, gate ? 1 : 0]);
    this.record({
      label: `add ${src.label} -> ${dst.label}`,
      pipeline: this.kernels.pipeline('add'),
      entries: () => [this.u(0, this.step), this.u(1, params), this.s(2, this.buf(src)), this.s(3, this.buf(dst)), this.s(4, gate ? this.buf(gate) : this.dummy)],
      dispatch: (s) => grid(s.n_tokens * dst.cols),
    });
    this.wrote(dst);
  }

  scale(b: Act, s: number): void {
    this.recordScale(b, s, 0);
  }

  private recordScale(b: Act, factor: number, mode: 0 | 1): void {
    const params = this.uniform('scale', [b.cols, { f32: factor }, mode, b.rowsPerToken]);
    this.record({
      label: `scale ${b.label}`,
      pipeline: this.kernels.pipeline('scale'),
      entries: () => [this.u(0, this.step), this.u(1, params), this.s(2, this.buf(b))],
      dispatch: (s) => grid((mode === 1 ? s.n_logits : s.n_tokens * b.rowsPerToken) * b.cols),
    });
    this.wrote(b);
  }

  private ensureMoeScratch(nExpert: number, k: number) {
    if (this.moeScratch) {
      if (this.moeScratch.nExpert !== nExpert || this.moeScratch.k !== k) throw new Error('all MoE layers must share n_expert and n_expert_used');
      return this.moeScratch;
    }
    const T = this.opts.maxTokens;
    const st = GPUBufferUsage.STORAGE;
    this.moeScratch = {
      nExpert,
      k,
      ids: this.buffer('moe_ids', T * k * 4, st | GPUBufferUsage.COPY_SRC), // read back by the expert executor
      weights: this.buffer('moe_weights', T * k * 4, st),
      counts: this.buffer('moe_counts', nExpert * 4, st),
      lists: this.buffer('moe_lists', nExpert * T * 4, st),
      args: this.buffer('moe_dispatch_args', nExpert * 6 * 4, st | GPUBufferUsage.INDIRECT),
    };
    return this.moeScratch;
  }

  route(logits: Act, p: RoutingParams): RoutingAct {
    const k = p.n_expert_used;
    if (p.n_expert > 256) throw new Error(`${p.n_expert} experts: at most 256 are supported`);
    if (logits.cols !== p.n_expert) throw new Error(`${logits.label} has ${logits.cols} columns for ${p.n_expert} experts`);
    const scratch = this.ensureMoeScratch(p.n_expert, k);
    const topk = this.uniform('moe_topk', [p.n_expert, k, p.norm ? 1 : 0, p.gating === 'sigmoid' ? 1 : 0, { f32: p.scale }]);
    this.record({
      label: 'moe_topk',
      pipeline: this.kernels.pipeline('moe_topk'),
      entries: () => [this.u(0, this.step), this.u(1, topk), this.s(2, this.buf(logits)), this.s(3, scratch.ids), this.s(4, scratch.weights)],
      dispatch: (s) => grid(s.n_tokens),
    });
    return { label: `routing of ${logits.label}`, k };
  }

  experts(x: Act, routing: RoutingAct, experts: ExpertWeights, act: GluActivation, out: Act): void {
    const scratch = this.moeScratch;
    if (!scratch || scratch.k !== routing.k) throw new Error(`${routing.label} was not recorded by this graph`);
    const k = routing.k;
    const nFf = experts.up[0]!.rows;
    const nEmbd = out.cols;
    const gate = this.act('ffn_moe_gate', nFf, k); // [n_tokens * k, n_ff_exp]
    const up = this.act('ffn_moe_up', nFf, k);
    const eout = this.act('ffn_moe_down', nEmbd, k); // [n_tokens * k, n_embd]
    // the matrices run per group: every expert (all resident), or every GPU slot of a layer with host experts
    let groups: { gate: GpuMatrix; up: GpuMatrix; down: GpuMatrix }[];
    let groupIds = scratch.ids;
    const offloaded = this.expertExecutor?.layer(experts);
    if (offloaded) {
      // host op: reads the routing and x, runs the host experts on the CPU (into their rows of eout),
      // uploads experts into slots and writes the slot of every (token, choice) to slotIds
      const ex = this.expertExecutor!;
      const bufs = { ids: scratch.ids, x: () => this.buf(x), eout: () => this.buf(eout) };
      this.host(`experts blk.${offloaded.il}`, (s) => ex.run(offloaded.il, s, bufs), (enc, s) => ex.prepare(enc, s, bufs));
      groups = offloaded.slots;
      groupIds = ex.slotIds;
    } else {
      groups = experts.up.map((_, e) => ({ gate: this.weights.uploaded(experts.gate[e]!), up: this.weights.uploaded(experts.up[e]!), down: this.weights.uploaded(experts.down[e]!) }));
    }
    const nGroups = groups.length;
    if (nGroups > 0) {
      // group the step's (token, choice) slots: counts, slot lists, indirect dispatch arguments (ids past nGroups: none)
      const group = this.uniform('moe_group', [nGroups, k, this.opts.maxTokens, ceil(nFf, 4 * WG), ceil(nEmbd, 4 * WG)]);
      this.record({
        label: 'moe_group',
        pipeline: this.kernels.pipeline('moe_group'),
        entries: () => [
          this.u(0, this.step),
          this.u(1, group),
          this.s(2, groupIds),
          this.s(3, scratch.counts),
          this.s(4, scratch.lists),
          this.s(5, scratch.args),
        ],
        dispatch: () => [1, 1, 1],
      });
      for (let e = 0; e < nGroups; e++) {
        this.recordMatmul(groups[e]!.gate, x, gate, { kind: 'gather', expert: e, div: k, argsSlot: 0 });
        this.recordMatmul(groups[e]!.up, x, up, { kind: 'gather', expert: e, div: k, argsSlot: 0 });
      }
      this.glu(gate, up, act);
      for (let e = 0; e < nGroups; e++) {
        this.recordMatmul(groups[e]!.down, gate, eout, { kind: 'gather', expert: e, div: 1, argsSlot: 1 });
      }
    }
    const comb = this.uniform('moe_combine', [nEmbd, k]);
    this.record({
      label: 'moe_combine',
      pipeline: this.kernels.pipeline('moe_combine'),
      entries: () => [this.u(0, this.step), this.u(1, comb), this.s(2, this.buf(eout)), this.s(3, scratch.weights), this.s(4, this.buf(out))],
      dispatch: (s) => grid(s.n_tokens * nEmbd),
    });
    this.wrote(out);
  }

  logits(x: Act, handle: WeightHandle, logitScale: number): void {
    const output = this.weights.uploaded(handle);
    const act = this.act('result_output', output.rows) as ActInfo;
    act.rows = this.opts.maxLogitRows;
    this.logitsAct = act;
    this.recordMatmul(output, x, act, { kind: 'logits' });
    if (logitScale !== 1) this.recordScale(act, logitScale, 1);
  }

  /** The logits buffer [maxLogitRows, n_vocab] and its row length. */
  get logitsBuffer(): { buffer: GPUBuffer; nVocab: number } {
    if (!this.logitsAct) throw new Error('the graph has no logits output');
    return { buffer: this.buf(this.logitsAct), nVocab: this.logitsAct.cols };
  }

  // --- finalize ----------------------------------------------------------------------------------------

  /** Allocates every activation and creates all bind groups. */
  finalize(): void {
    if (this.finalized) return;
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    for (const a of this.acts.values()) a.buffer = this.buffer(a.label, a.rows * a.cols * 4, usage);
    this.xq = this.buffer('act_q8_0.qs', this.xqWords * 4, GPUBufferUsage.STORAGE);
    this.xd = this.buffer('act_q8_0.d', (this.xqWords / 8) * 4, GPUBufferUsage.STORAGE);
    for (const op of this.ops) {
      if (isHostOp(op)) continue;
      op.bindGroup = this.device.createBindGroup({ label: op.label, layout: op.pipeline.getBindGroupLayout(0), entries: op.entries() });
    }
    this.finalized = true;
  }

  /** Bytes of activations, KV cache and scratch owned by the graph. */
  get bytes(): number {
    return this.owned.reduce((n, b) => n + b.size, 0);
  }

  get kvBytes(): number {
    let n = 0;
    for (const c of this.kv.values()) n += c.k.size + c.v.size;
    return n;
  }

  destroy(): void {
    for (const b of this.owned) b.destroy();
    this.owned.length = 0;
  }

  private u(binding: number, buffer: GPUBuffer): GPUBindGroupEntry {
    return { binding, resource: { buffer } };
  }

  private s(binding: number, buffer: GPUBuffer): GPUBindGroupEntry {
    return { binding, resource: { buffer } };
  }
}
