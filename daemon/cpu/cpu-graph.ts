/**
 * The CPU backend's ForwardOps, run by every rank on its own share of the model (partition.ts): the
 * architecture's forward pass is recorded once, at load, into a program of closures over addresses in the
 * rank's WebAssembly memory; a step runs the program. The recorder tracks how each activation is
 * distributed — whole on every rank ('full'), a rank's slice of heads or of an FFN ('split'), or a rank's
 * partial sum of the whole ('partial', after a column-split matmul) — and inserts the collectives the data
 * needs: a partial value is summed over ranks (the residual add, or before a non-linear op), and the
 * embedding rows are gathered from the ranks that hold them. Collectives pass through a per-rank
 * exchange buffer, double-buffered so one barrier per collective suffices.
 */
import type { ActivationFormat } from '../formats/format.js';
import { formatOf } from '../formats/table.js';
import type { Act, AttentionParams, ExpertWeights, ForwardOps, GluActivation, RopeParams, RoutingAct, VectorHandle, WeightHandle } from '../model/forward-ops.js';
import type { ModelConfig } from '../model/hparams.js';
import { geluF16Table } from '../model/gelu-table.js';
import { ropeTable } from '../model/rope-table.js';
import { routeTokens, type Routing, type RoutingParams } from '../model/routing.js';
import type { Arena } from './arena.js';
import type { Barrier } from './control.js';
import { rangeLen, weightRole, type PartitionPlan, type Range } from './partition.js';
import { activationRowBytes, convertRow, type KernelExports } from './wasm-kernels.js';

/** A weight slice placed in this rank's memory. */
export interface PlacedMatrix {
  ptr: number;
  /** Local rows and columns (the slice). */
  rows: number;
  cols: number;
  type: number;
  /** The slice's first row in the whole matrix (where a row-split output's columns start). */
  rowStart: number;
}

/** What a step asks, read from the control block. */
export interface StepState {
  n: number;
  pos: number;
  slot: number;
  /** Rows of logits to produce: [logitsStart, logitsStart + nLogits) of the step's tokens (0 rows: feed only). */
  logitsStart: number;
  nLogits: number;
  tokens: Int32Array;
}

export type Program = ((s: StepState) => void)[];

/**
 * The two exchange buffers collectives pass partial values through. Ranks read each other's, so they sit
 * at the same address in every rank's memory: allocate them first, before anything of a rank's own size.
 */
export interface ExchangeBuffers {
  ptrs: [number, number];
  bytes: number;
}

export function allocateExchange(arena: Arena, maxBatch: number, cfg: ModelConfig): ExchangeBuffers {
  const bytes = maxBatch * Math.max(cfg.n_embd, cfg.n_expert) * F32;
  return { ptrs: [arena.alloc(bytes, 64, 'exchange buffer'), arena.alloc(bytes, 64, 'exchange buffer')], bytes };
}

/** A split value holds columns [start, start + width) of the whole on this rank. */
type Dist = { kind: 'full' } | { kind: 'partial' } | { kind: 'split'; what: string; width: number; start: number };

interface ActState extends Act {
  dist: Dist;
  /** Floats per row in memory (the widest local width this act ever holds). */
  stride: number;
  ptr: number;
  /** Bumped at every recorded write: converted copies are reused while it stays the same. */
  version: number;
}

export interface CpuGraphOptions {
  rank: number;
  plan: PartitionPlan;
  cfg: ModelConfig;
  nCtx: number;
  nSlots: number;
  maxBatch: number;
  /** Largest number of logits rows one step produces. */
  maxLogitRows: number;
  kvF16: boolean;
}

const F32 = 4;

export class CpuGraph implements ForwardOps {
  readonly program: Program = [];
  private readonly acts = new Map<string, ActState>();
  private readonly routings = new Map<string, Routing>();
  private readonly converted = new Map<ActivationFormat, { ptr: number; bytes: number; key: string }>();
  private readonly kv = new Map<number, { k: number; v: number; rowK: number; rowV: number }>();
  private collectives = 0;
  private readonly comm: [number, number];
  private readonly commBytes: number;
  private ropeCs = 0;
  private geluTable = 0;
  private logitsPtr = 0;
  private logitsCols = 0;
  private readonly scratch = new Map<string, { ptr: number; bytes: number }>();
  private readonly f32: () => Float32Array;
  private finalized = false;

  constructor(
    private readonly k: KernelExports,
    private readonly arena: Arena,
    private readonly memories: WebAssembly.Memory[],
    private readonly barrier: Barrier,
    private readonly matrices: Map<string, PlacedMatrix>,
    private readonly vectors: Map<string, number>,
    private readonly o: CpuGraphOptions,
    exchange: ExchangeBuffers,
  ) {
    this.commBytes = exchange.bytes;
    this.comm = exchange.ptrs;
    const mine = memories[o.rank]!;
    let view = new Float32Array(mine.buffer);
    this.f32 = () => (view.byteLength === mine.buffer.byteLength ? view : (view = new Float32Array(mine.buffer)));
  }

  get rank(): number {
    return this.o.rank;
  }

  /** Where this rank's logits rows live: [maxLogitRows, vocab slice] f32. */
  get logitsOutput(): { ptr: number; cols: number } {
    return { ptr: this.logitsPtr, cols: this.logitsCols };
  }

  // --- activations -------------------------------------------------------------------------------------

  act(label: string, cols: number, rowsPerToken = 1): Act {
    const a = this.acts.get(label);
    if (a) {
      if (a.cols !== cols || a.rowsPerToken !== rowsPerToken) throw new Error(`activation ${label} redeclared as [${rowsPerToken}x, ${cols}]`);
      return a;
    }
    const s: ActState = { label, cols, rowsPerToken, dist: { kind: 'full' }, stride: 0, ptr: 0, version: 0 };
    this.acts.set(label, s);
    return s;
  }

  private st(a: Act): ActState {
    const s = this.acts.get(a.label);
    if (!s) throw new Error(`activation ${a.label} was not declared`);
    return s;
  }

  /** Marks `a` written with distribution `d` and local width `width`; its row stride is the widest it ever holds. */
  private wrote(a: ActState, d: Dist, width = d.kind === 'split' ? d.width : a.cols): void {
    a.dist = d;
    a.version++;
    a.stride = Math.max(a.stride, width);
  }

  private localWidth(a: ActState): number {
    return a.dist.kind === 'split' ? a.dist.width : a.cols;
  }

  private rows(a: ActState, s: StepState): number {
    return s.n * a.rowsPerToken;
  }

  /** Makes `a` whole on every rank: a partial value is summed over ranks (a collective). */
  private ensureFull(a: ActState): void {
    if (a.dist.kind === 'full') return;
    if (a.dist.kind === 'split') throw new Error(`${a.label} is split across ranks (${a.dist.what}) where the whole value is needed`);
    this.sumOverRanks(a, a, 0, 1);
    a.dist = { kind: 'full' };
    a.version++;
  }

  /**
   * The collective: dst = (keep ? dst : 0) + scale · Σ_ranks src, for the step's rows of `cols` values.
   * src (a partial) is copied to this rank's exchange buffer; after the barrier every rank reads every
   * exchange buffer in rank order, so all ranks compute the same bits.
   */
  private sumOverRanks(dst: ActState, src: ActState, keep: 0 | 1, scale: number): void {
    const n = this.o.plan.nRanks;
    const slot = this.collectives++ % 2;
    const cols = src.cols;
    if (n === 1) {
      if (dst === src && scale === 1 && !keep) return;
      this.program.push((s) => {
        const rows = this.rows(src, s);
        if (keep) this.k.add_scaled(dst.ptr, src.ptr, scale, rows * cols);
        else if (dst !== src) this.f32().copyWithin(dst.ptr / F32, src.ptr / F32, (src.ptr + rows * cols * F32) / F32);
      });
      return;
    }
    const comm = this.comm[slot]!;
    let views: Float32Array[] = [];
    this.program.push((s) => {
      const rows = this.rows(src, s);
      const count = rows * cols;
      if (count * F32 > this.commBytes) throw new Error(`exchange buffer too small for ${src.label}`);
      const mem = this.f32();
      mem.copyWithin(comm / F32, src.ptr / F32, src.ptr / F32 + count);
      this.barrier.wait();
      if (views.length === 0 || views[0]!.length < count) views = this.memories.map((m) => new Float32Array(m.buffer, comm, this.commBytes / F32));
      const d = dst.ptr / F32;
      const v0 = views[0]!;
      if (n === 2) {
        const v1 = views[1]!;
        if (keep) for (let i = 0; i < count; i++) mem[d + i] += scale * (v0[i]! + v1[i]!);
        else for (let i = 0; i < count; i++) mem[d + i] = scale * (v0[i]! + v1[i]!);
        return;
      }
      for (let i = 0; i < count; i++) {
        let acc = v0[i]!;
        for (let r = 1; r < n; r++) acc += views[r]![i]!;
        mem[d + i] = keep ? mem[d + i]! + scale * acc : scale * acc;
      }
    });
  }

  /** Scratch memory that lives for the whole program, by name (allocated at finalize). */
  private scratchBuf(name: string, bytes: number): { ptr: number; bytes: number } {
    let s = this.scratch.get(name);
    if (!s) {
      s = { ptr: 0, bytes };
      this.scratch.set(name, s);
    }
    s.bytes = Math.max(s.bytes, bytes);
    return s;
  }

  /**
   * The rows of `a` as a matmul with weights of activation format `f` reads them: converted (quantised,
   * rounded) into a scratch buffer, once per version of `a`; f32 rows are used in place.
   */
  private input(a: ActState, f: ActivationFormat): () => number {
    const width = this.localWidth(a);
    const rowBytes = activationRowBytes(f, width);
    const maxRows = this.o.maxBatch * a.rowsPerToken;
    const buf = this.scratchBuf(`conv.${f}`, rowBytes * maxRows);
    // f32 rows are read in place when they are contiguous (the stride is only final after recording)
    const inPlace = () => f === 'f32' && a.stride === width;
    const key = `${a.label}@${a.version}:${width}`;
    if (this.converted.get(f)?.key !== key) {
      this.converted.set(f, { ptr: 0, bytes: 0, key });
      this.program.push((s) => {
        if (inPlace()) return;
        const rows = this.rows(a, s);
        for (let r = 0; r < rows; r++) {
          const src = a.ptr + r * a.stride * F32;
          if (f === 'f32') this.f32().copyWithin((buf.ptr + r * rowBytes) / F32, src / F32, src / F32 + width);
          else convertRow(this.k, f, src, buf.ptr + r * rowBytes, width);
        }
      });
    }
    return () => (inPlace() ? a.ptr : buf.ptr);
  }

  private placed(w: WeightHandle): PlacedMatrix {
    const m = this.matrices.get(w.name);
    if (!m) throw new Error(`weight ${w.name} is not placed on rank ${this.rank}`);
    return m;
  }

  private matmulKernel(w: PlacedMatrix, name: string): (w: number, x: number, y: number, nrows: number, ncols: number, ntok: number, ystride: number) => void {
    const f = formatOf(w.type);
    const fn = f?.cpu ? this.k[`matmul_${f.cpu}`] : undefined;
    if (!fn) throw new Error(`${name}: the CPU backend has no kernel for type ${f?.name ?? w.type}`);
    return fn;
  }

  private activationOf(w: PlacedMatrix): ActivationFormat {
    return formatOf(w.type)!.activation;
  }

  // --- ops ---------------------------------------------------------------------------------------------

  embed(table: WeightHandle, out: Act, scale: number): void {
    const o = this.st(out);
    const w = this.placed(table);
    const f = formatOf(w.type)!;
    const deq = f.cpu ? this.k[`dequantize_row_${f.cpu}`] : undefined;
    if (!deq) throw new Error(`${table.name}: the CPU backend cannot read rows of type ${f.name}`);
    const E = w.cols;
    const rowBytes = (E / f.blockSize) * f.typeSize;
    const ranks = this.o.plan.ranks;
    const mine = ranks[this.rank]!.vocab;
    const n = this.o.plan.nRanks;
    const slot = this.collectives++ % 2;
    const comm = this.comm[slot]!;
    let views: Float32Array[] = [];
    this.program.push((s) => {
      for (let t = 0; t < s.n; t++) {
        const tok = s.tokens[t]!;
        if (tok >= mine.start && tok < mine.end) deq(w.ptr + (tok - mine.start) * rowBytes, (n === 1 ? o.ptr : comm) + t * E * F32, E);
      }
      const mem = this.f32();
      if (n > 1) {
        this.barrier.wait();
        if (views.length === 0) views = this.memories.map((m) => new Float32Array(m.buffer, comm, this.commBytes / F32));
        for (let t = 0; t < s.n; t++) {
          const tok = s.tokens[t]!;
          const owner = ranks.findIndex((r) => tok >= r.vocab.start && tok < r.vocab.end);
          mem.set(views[owner]!.subarray(t * E, (t + 1) * E), o.ptr / F32 + t * E);
        }
      }
      if (scale !== 1) for (let i = o.ptr / F32, end = i + s.n * E; i < end; i++) mem[i] *= scale;
    });
    this.wrote(o, { kind: 'full' });
  }

  rmsNorm(x: Act, weight: VectorHandle | null, out: Act, eps: number): void {
    const xs = this.st(x);
    const os = this.st(out);
    this.ensureFull(xs);
    const w = weight ? this.vector(weight) : 0;
    const n = xs.cols;
    this.program.push((s) => this.k.rms_norm(xs.ptr, w, os.ptr, n, this.rows(xs, s), eps));
    this.wrote(os, { kind: 'full' });
  }

  rmsNormRows(buf: Act, rowLen: number, weight: VectorHandle | null, eps: number): void {
    const b = this.st(buf);
    const w = weight ? this.vector(weight) : 0;
    if (rowLen === b.cols) this.ensureFull(b);
    const width = this.localWidth(b);
    if (width % rowLen) throw new Error(`${b.label}: ${width} local columns are not whole rows of ${rowLen}`);
    this.program.push((s) => {
      const rows = this.rows(b, s);
      if (b.stride === width) this.k.rms_norm(b.ptr, w, b.ptr, rowLen, rows * (width / rowLen), eps);
      else for (let r = 0; r < rows; r++) this.k.rms_norm(b.ptr + r * b.stride * F32, w, b.ptr + r * b.stride * F32, rowLen, width / rowLen, eps);
    });
    b.version++;
  }

  matmul(w: WeightHandle, x: Act, y: Act): void {
    const xs = this.st(x);
    const ys = this.st(y);
    const m = this.placed(w);
    const role = weightRole(w);
    let dist: Dist;
    switch (role) {
      case 'q':
      case 'k':
      case 'v':
        this.ensureFull(xs);
        dist = this.o.plan.fullQk && role !== 'v' ? { kind: 'full' } : { kind: 'split', what: `heads.${role === 'q' ? 'q' : 'kv'}`, width: m.rows, start: m.rowStart };
        break;
      case 'ff_in':
        this.ensureFull(xs);
        dist = { kind: 'split', what: w.tensor.replace(/\.ffn_(gate|up)/, '.ffn'), width: m.rows, start: m.rowStart };
        break;
      case 'o':
      case 'ff_out':
        if (xs.dist.kind !== 'split') throw new Error(`${w.name} reads ${xs.label}, which is not split across ranks`);
        if (xs.dist.width !== m.cols) throw new Error(`${w.name}: this rank holds ${m.cols} columns but ${xs.label} has ${xs.dist.width}`);
        dist = { kind: 'partial' };
        break;
      case 'replicated':
        this.ensureFull(xs);
        dist = { kind: 'full' };
        break;
      case 'vocab':
        throw new Error(`${w.name} is read by embed() and logits(), not matmul()`);
    }
    const kernel = this.matmulKernel(m, w.name);
    const input = this.input(xs, this.activationOf(m));
    this.wrote(ys, dist, dist.kind === 'split' ? m.rows : ys.cols);
    this.program.push((s) => {
      if (m.rows === 0) return;
      if (m.cols === 0) {
        this.f32().fill(0, ys.ptr / F32, ys.ptr / F32 + this.rows(xs, s) * ys.stride);
        return;
      }
      kernel(m.ptr, input(), ys.ptr, m.rows, m.cols, this.rows(xs, s), ys.stride);
    });
  }

  private ropeTable(p: RopeParams): number {
    if (!this.ropeCs) {
      const factors = p.freq_factors ? new Float32Array(this.memories[this.rank]!.buffer, this.vector(p.freq_factors), p.freq_factors.n).slice() : null;
      const table = ropeTable(this.o.nCtx, p.n_rot, this.o.cfg.rope, factors);
      this.ropeCs = this.arena.alloc(table.byteLength, 64, 'rope table');
      new Float32Array(this.memories[this.rank]!.buffer, this.ropeCs, table.length).set(table);
    }
    return this.ropeCs;
  }

  ropeInPlace(q: Act, p: RopeParams): void {
    const qs = this.st(q);
    const cs = this.ropeTable(p);
    const width = this.localWidth(qs);
    const mode = p.mode === 'neox' ? 1 : 0;
    this.program.push((s) => {
      if (width === 0) return;
      this.k.rope(qs.ptr, cs, s.n, width / p.head_dim, p.head_dim, p.n_rot, mode, s.pos);
    });
    qs.version++;
  }

  private kvCache(il: number, kvHeads: number): { k: number; v: number; rowK: number; rowV: number } {
    let c = this.kv.get(il);
    if (!c) {
      const cfg = this.o.cfg;
      const el = this.o.kvF16 ? 2 : 4;
      const rowK = kvHeads * cfg.n_embd_head_k * el;
      const rowV = kvHeads * cfg.n_embd_head_v * el;
      const rows = this.o.nSlots * this.o.nCtx;
      c = { k: this.arena.alloc(rows * rowK, 64, `blk.${il}.cache_k`), v: this.arena.alloc(rows * rowV, 64, `blk.${il}.cache_v`), rowK, rowV };
      this.kv.set(il, c);
    }
    return c;
  }

  /** This rank's kv heads as [first, count]. */
  private kvHeads(): Range {
    return this.o.plan.ranks[this.rank]!.kvHeads;
  }

  storeKv(il: number, k: Act, v: Act, p: RopeParams, headDimV: number): void {
    const ks = this.st(k);
    const vs = this.st(v);
    const kvh = this.kvHeads();
    const nKv = rangeLen(kvh);
    const hk = p.head_dim;
    const cache = this.kvCache(il, nKv);
    const cs = this.ropeTable(p);
    const mode = p.mode === 'neox' ? 1 : 0;
    const kWidth = this.localWidth(ks);
    // whole k (olmoe): this rank's heads start at kvh.start
    const kOff = ks.dist.kind === 'full' ? kvh.start * hk : 0;
    const f16 = this.o.kvF16;
    this.program.push((s) => {
      if (nKv === 0) return;
      this.k.rope(ks.ptr, cs, s.n, kWidth / hk, hk, p.n_rot, mode, s.pos);
      const base = (s.slot * this.o.nCtx + s.pos) * 1;
      for (let t = 0; t < s.n; t++) {
        const srcK = ks.ptr + (t * ks.stride + kOff) * F32;
        const srcV = vs.ptr + t * vs.stride * F32;
        const dk = cache.k + (base + t) * cache.rowK;
        const dv = cache.v + (base + t) * cache.rowV;
        if (f16) {
          this.k.convert_row_f16(srcK, dk, nKv * hk);
          this.k.convert_row_f16(srcV, dv, nKv * headDimV);
        } else {
          const mem = this.f32();
          mem.copyWithin(dk / F32, srcK / F32, srcK / F32 + nKv * hk);
          mem.copyWithin(dv / F32, srcV / F32, srcV / F32 + nKv * headDimV);
        }
      }
    });
  }

  attention(il: number, q: Act, out: Act, p: AttentionParams): void {
    const qs = this.st(q);
    const os = this.st(out);
    const cache = this.kv.get(il);
    if (!cache) throw new Error(`attention on layer ${il} before its KV cache was written`);
    const rp = this.o.plan.ranks[this.rank]!;
    const nQ = rangeLen(rp.qHeads);
    const kvh = rp.kvHeads;
    const group = p.n_head / p.n_head_kv;
    // a whole q (olmoe) is sliced to this rank's heads first
    let qPtr = (): number => qs.ptr;
    if (qs.dist.kind === 'full' && nQ !== p.n_head) {
      const sliceBuf = this.scratchBuf('q.slice', this.o.maxBatch * nQ * p.head_dim_k * F32);
      this.program.push((s) => {
        const mem = this.f32();
        for (let t = 0; t < s.n; t++) {
          const src = qs.ptr / F32 + t * qs.stride + rp.qHeads.start * p.head_dim_k;
          mem.copyWithin(sliceBuf.ptr / F32 + t * nQ * p.head_dim_k, src, src + nQ * p.head_dim_k);
        }
      });
      qPtr = () => sliceBuf.ptr;
    }
    const scores = this.scratchBuf('attn.scores', 4 * this.o.nCtx * F32);
    const f16 = this.o.kvF16 ? 1 : 0;
    this.wrote(os, { kind: 'split', what: 'heads.q', width: nQ * p.head_dim_v, start: rp.qHeads.start * p.head_dim_v });
    this.program.push((s) => {
      if (nQ === 0) return;
      this.k.attention(
        qPtr(),
        cache.k + s.slot * this.o.nCtx * cache.rowK,
        cache.v + s.slot * this.o.nCtx * cache.rowV,
        os.ptr,
        scores.ptr,
        s.n,
        nQ,
        rangeLen(kvh),
        p.head_dim_k,
        p.head_dim_v,
        rp.qHeads.start,
        kvh.start,
        group,
        s.pos,
        p.scale,
        p.softcap,
        f16,
      );
    });
  }

  glu(gate: Act, up: Act, act: GluActivation): void {
    const g = this.st(gate);
    const u = this.st(up);
    const width = this.localWidth(g);
    if (width !== this.localWidth(u)) throw new Error(`${g.label} and ${u.label} hold different slices`);
    const table = act === 'gelu' ? this.gelu() : 0;
    const glu = (gp: number, upp: number, count: number) => (act === 'gelu' ? this.k.glu_gelu(gp, upp, count, table) : this.k.glu_silu(gp, upp, count));
    this.program.push((s) => {
      const rows = this.rows(g, s);
      if (g.stride === width && u.stride === width) glu(g.ptr, u.ptr, rows * width);
      else for (let r = 0; r < rows; r++) glu(g.ptr + r * g.stride * F32, u.ptr + r * u.stride * F32, width);
    });
    g.version++;
  }

  private gelu(): number {
    if (!this.geluTable) {
      const t = geluF16Table();
      this.geluTable = this.arena.alloc(t.byteLength, 64, 'gelu table');
      new Uint32Array(this.memories[this.rank]!.buffer, this.geluTable, t.length).set(t);
    }
    return this.geluTable;
  }

  add(dst: Act, src: Act, scale = 1): void {
    const d = this.st(dst);
    const s = this.st(src);
    if (d.dist.kind === 'full' && s.dist.kind === 'partial') {
      this.sumOverRanks(d, s, 1, scale);
      d.version++;
      return;
    }
    if (d.dist.kind === 'partial' && s.dist.kind === 'full') {
      // a whole value joins a partial sum once: on rank 0
      if (this.rank === 0) this.program.push((st) => this.k.add_scaled(d.ptr, s.ptr, scale, this.rows(d, st) * d.cols));
      d.version++;
      return;
    }
    if (d.dist.kind !== s.dist.kind || (d.dist.kind === 'split' && s.dist.kind === 'split' && d.dist.what !== s.dist.what)) {
      throw new Error(`add: ${s.label} and ${d.label} are distributed differently`);
    }
    const width = this.localWidth(d);
    this.program.push((st) => {
      const rows = this.rows(d, st);
      if (d.stride === width && s.stride === width) this.k.add_scaled(d.ptr, s.ptr, scale, rows * width);
      else for (let r = 0; r < rows; r++) this.k.add_scaled(d.ptr + r * d.stride * F32, s.ptr + r * s.stride * F32, scale, width);
    });
    d.version++;
  }

  /**
   * x += b per row. A split x adds its own columns' slice of b; a partial sum gets b once, on rank 0 (the
   * sum over ranks then holds it once); a whole x adds all of b on every rank.
   */
  addBias(x: Act, b: VectorHandle): void {
    const xs = this.st(x);
    if (b.n !== xs.cols) throw new Error(`${b.name} has ${b.n} values, ${xs.label} has ${xs.cols} columns`);
    const d = xs.dist;
    if (d.kind === 'partial' && this.rank !== 0) {
      xs.version++;
      return;
    }
    const width = this.localWidth(xs);
    const bias = this.vector(b) + (d.kind === 'split' ? d.start : 0) * F32;
    this.program.push((s) => {
      const rows = this.rows(xs, s);
      for (let r = 0; r < rows; r++) this.k.add_scaled(xs.ptr + r * xs.stride * F32, bias, 1, width);
    });
    xs.version++;
  }

  addGated(dst: Act, src: Act, gate: Act): void {
    const d = this.st(dst);
    const s = this.st(src);
    const g = this.st(gate);
    this.ensureFull(g);
    if (d.dist.kind !== s.dist.kind) throw new Error(`addGated: ${s.label} and ${d.label} are distributed differently`);
    const cols = d.cols;
    this.program.push((st) => {
      const mem = this.f32();
      for (let t = 0; t < st.n; t++) {
        const sig = 1 / (1 + Math.exp(-mem[g.ptr / F32 + t * g.stride]!));
        this.k.add_scaled(d.ptr + t * d.stride * F32, s.ptr + t * s.stride * F32, sig, cols);
      }
    });
    d.version++;
  }

  scale(buf: Act, sc: number): void {
    const b = this.st(buf);
    const width = this.localWidth(b);
    this.program.push((s) => {
      const mem = this.f32();
      const rows = this.rows(b, s);
      for (let r = 0; r < rows; r++) for (let i = b.ptr / F32 + r * b.stride, e = i + width; i < e; i++) mem[i] *= sc;
    });
    b.version++;
  }

  route(logits: Act, p: RoutingParams): RoutingAct {
    const l = this.st(logits);
    this.ensureFull(l);
    const label = `routing of ${l.label}`;
    this.program.push((s) => {
      const mem = this.f32();
      const rows = new Float32Array(s.n * p.n_expert);
      for (let t = 0; t < s.n; t++) rows.set(mem.subarray(l.ptr / F32 + t * l.stride, l.ptr / F32 + t * l.stride + p.n_expert), t * p.n_expert);
      this.routings.set(label, routeTokens(rows, s.n, p));
    });
    return { label, k: p.n_expert_used };
  }

  experts(x: Act, routing: RoutingAct, experts: ExpertWeights, act: GluActivation, out: Act): void {
    const xs = this.st(x);
    const os = this.st(out);
    this.ensureFull(xs);
    const nExpert = experts.up.length;
    const gates = experts.gate.map((h) => this.placed(h));
    const ups = experts.up.map((h) => this.placed(h));
    const downs = experts.down.map((h) => this.placed(h));
    const fl = ups[0]!.rows; // this rank's slice of the expert width
    const E = os.cols;
    const k = routing.k;
    const fg = this.activationOf(gates[0]!);
    const fu = this.activationOf(ups[0]!);
    const fd = this.activationOf(downs[0]!);
    const xg = this.input(xs, fg);
    const xu = fu === fg ? xg : this.input(xs, fu);
    const gRow = activationRowBytes(fg, xs.cols);
    const uRow = activationRowBytes(fu, xs.cols);
    const dRow = activationRowBytes(fd, fl);
    const maxRows = this.o.maxBatch;
    const gatherG = this.scratchBuf('moe.xg', maxRows * gRow);
    const gatherU = fu === fg ? gatherG : this.scratchBuf('moe.xu', maxRows * uRow);
    const gBuf = this.scratchBuf('moe.gate', maxRows * Math.max(fl, 1) * F32);
    const uBuf = this.scratchBuf('moe.up', maxRows * Math.max(fl, 1) * F32);
    const hq = this.scratchBuf('moe.hq', maxRows * Math.max(dRow, 4));
    const dBuf = this.scratchBuf('moe.down', maxRows * E * F32);
    const kGate = this.matmulKernel(gates[0]!, experts.gate[0]!.name);
    const kUp = this.matmulKernel(ups[0]!, experts.up[0]!.name);
    const kDown = this.matmulKernel(downs[0]!, experts.down[0]!.name);
    const table = act === 'gelu' ? this.gelu() : 0;
    const lists: number[][] = Array.from({ length: nExpert }, () => []);
    this.wrote(os, { kind: 'partial' });
    this.program.push((s) => {
      const r = this.routings.get(routing.label);
      if (!r) throw new Error(`${routing.label} was not computed`);
      const mem = this.f32();
      const u8 = new Uint8Array(mem.buffer);
      mem.fill(0, os.ptr / F32, os.ptr / F32 + s.n * os.stride);
      if (fl === 0) return;
      for (const l of lists) l.length = 0;
      for (let slot = 0; slot < s.n * k; slot++) lists[r.ids[slot]!]!.push(slot);
      const xgp = xg();
      const xup = xu();
      for (let e = 0; e < nExpert; e++) {
        const list = lists[e]!;
        const cnt = list.length;
        if (cnt === 0) continue;
        let pg = xgp;
        let pu = xup;
        if (!(cnt === 1 && s.n === 1)) {
          for (let i = 0; i < cnt; i++) {
            const t = Math.floor(list[i]! / k);
            u8.copyWithin(gatherG.ptr + i * gRow, xgp + t * gRow, xgp + (t + 1) * gRow);
            if (gatherU !== gatherG) u8.copyWithin(gatherU.ptr + i * uRow, xup + t * uRow, xup + (t + 1) * uRow);
          }
          pg = gatherG.ptr;
          pu = gatherU.ptr;
        }
        kGate(gates[e]!.ptr, pg, gBuf.ptr, fl, xs.cols, cnt, fl);
        kUp(ups[e]!.ptr, pu, uBuf.ptr, fl, xs.cols, cnt, fl);
        if (act === 'gelu') this.k.glu_gelu(gBuf.ptr, uBuf.ptr, cnt * fl, table);
        else this.k.glu_silu(gBuf.ptr, uBuf.ptr, cnt * fl);
        let hp = gBuf.ptr;
        if (fd !== 'f32') {
          for (let i = 0; i < cnt; i++) convertRow(this.k, fd, gBuf.ptr + i * fl * F32, hq.ptr + i * dRow, fl);
          hp = hq.ptr;
        }
        kDown(downs[e]!.ptr, hp, dBuf.ptr, E, fl, cnt, E);
        for (let i = 0; i < cnt; i++) {
          const slot = list[i]!;
          const t = Math.floor(slot / k);
          this.k.add_scaled(os.ptr + t * os.stride * F32, dBuf.ptr + i * E * F32, r.weights[slot]!, E);
        }
      }
    });
  }

  logits(x: Act, output: WeightHandle, logitScale: number): void {
    const xs = this.st(x);
    this.ensureFull(xs);
    const m = this.placed(output);
    const f = this.activationOf(m);
    const kernel = this.matmulKernel(m, output.name);
    const rowBytes = activationRowBytes(f, xs.cols);
    const conv = this.scratchBuf(`logits.${f}`, this.o.maxLogitRows * Math.max(rowBytes, 4));
    this.logitsCols = m.rows;
    const out = this.scratchBuf('logits', this.o.maxLogitRows * Math.max(m.rows, 1) * F32);
    this.program.push((s) => {
      if (s.nLogits === 0 || m.rows === 0) return;
      for (let r = 0; r < s.nLogits; r++) {
        const src = xs.ptr + (s.logitsStart + r) * xs.stride * F32;
        if (f === 'f32') this.f32().copyWithin((conv.ptr + r * rowBytes) / F32, src / F32, src / F32 + xs.cols);
        else convertRow(this.k, f, src, conv.ptr + r * rowBytes, xs.cols);
      }
      kernel(m.ptr, conv.ptr, out.ptr, m.rows, m.cols, s.nLogits, m.rows);
      if (logitScale !== 1) {
        const mem = this.f32();
        for (let i = out.ptr / F32, e = i + s.nLogits * m.rows; i < e; i++) mem[i] *= logitScale;
      }
    });
    this.logitsOut = out;
  }

  private logitsOut?: { ptr: number; bytes: number };

  private vector(h: VectorHandle): number {
    const p = this.vectors.get(h.name);
    if (p === undefined) throw new Error(`vector ${h.name} is not placed on rank ${this.rank}`);
    return p;
  }

  /** Allocates every activation and scratch buffer; the program is ready to run. */
  finalize(): void {
    if (this.finalized) return;
    for (const a of this.acts.values()) a.ptr = this.arena.alloc(this.o.maxBatch * a.rowsPerToken * Math.max(a.stride, 1) * F32, 64, a.label);
    for (const [name, s] of this.scratch) s.ptr = this.arena.alloc(s.bytes, 64, name);
    if (!this.logitsOut) throw new Error('the forward pass has no logits');
    this.logitsPtr = this.logitsOut.ptr;
    this.finalized = true;
  }
}
