/**
 * GPU bytes the forward graph will allocate besides the weights — KV cache, activations, converted
 * activation copies, MoE scratch, tables, uniforms, the runner's sampling and readback buffers and the
 * expert executor's buffers — before anything is allocated: the architecture's forward pass is run
 * against a ForwardOps that only measures. The placement planner needs this to turn a GPU budget into
 * expert slots. It is an upper bound of what graph-builder.ts and graph-runner.ts allocate (tested).
 */
import { GgmlType } from '../gguf/ggml-types.js';
import { ARCHITECTURES } from '../model/architectures.js';
import type { Act, AttentionParams, ExpertWeights, ForwardOps, GluActivation, RopeParams, RoutingAct, WeightHandle } from '../model/forward-ops.js';
import { geluF16Table } from '../model/gelu-table.js';
import type { ModelConfig } from '../model/hparams.js';
import type { ModelWeights } from '../model/model-weights.js';
import type { RoutingParams } from '../model/routing.js';
import { executorBufferBytes } from './expert-executor.js';

export interface GraphSizeOptions {
  maxTokens: number;
  nCtx: number;
  nSlots: number;
  maxLogitRows: number;
}

export interface GraphSize {
  kvCache: number;
  /** Everything else the graph, the runner and the expert executor allocate. */
  activations: number;
}

const r16 = (n: number) => Math.max(16, Math.ceil(n / 16) * 16);
/** A recorded op's uniform params (at most 12 fields, 16-byte rows), generously. */
const UNIFORM = 64;

class SizingOps implements ForwardOps {
  readonly acts = new Map<string, { cols: number; rows: number }>();
  kv = 0;
  ops = 0;
  convertedValues = 0;
  convertedFormats = new Set<GgmlType>();
  moe = 0;
  tables = 0;
  private ropeDone = false;
  private geluDone = false;
  private moeDone = false;

  constructor(private readonly o: GraphSizeOptions) {}

  act(label: string, cols: number, rowsPerToken = 1): Act {
    if (!this.acts.has(label)) this.acts.set(label, { cols, rows: this.o.maxTokens * rowsPerToken });
    return { label, cols, rowsPerToken };
  }

  private input(w: WeightHandle, x: Act): void {
    if (w.type === GgmlType.F32) return;
    this.convertedFormats.add(w.type);
    this.convertedValues = Math.max(this.convertedValues, this.o.maxTokens * x.rowsPerToken * x.cols);
    this.ops++;
  }

  private rope(p: RopeParams): void {
    if (this.ropeDone) return;
    this.ropeDone = true;
    this.tables += r16(this.o.nCtx * p.n_rot * 4);
  }

  embed(): void {
    this.ops++;
  }
  rmsNorm(): void {
    this.ops++;
  }
  rmsNormRows(): void {
    this.ops++;
  }
  matmul(w: WeightHandle, x: Act): void {
    this.input(w, x);
    this.ops++;
  }
  ropeInPlace(_q: Act, p: RopeParams): void {
    this.rope(p);
    this.ops++;
  }
  storeKv(_il: number, k: Act, v: Act, p: RopeParams): void {
    this.rope(p);
    this.kv += 2 * r16(this.o.nSlots * this.o.nCtx * Math.max(k.cols, v.cols) * 4);
    this.ops += 2;
  }
  attention(_il: number, _q: Act, _out: Act, _p: AttentionParams): void {
    this.ops++;
  }
  glu(): void {
    // every GLU binds the GELU table (created on first use)
    if (!this.geluDone) this.tables += r16(geluF16Table().byteLength);
    this.geluDone = true;
    this.ops++;
  }
  add(): void {
    this.ops++;
  }
  addGated(): void {
    this.ops++;
  }
  scale(): void {
    this.ops++;
  }
  route(_logits: Act, p: RoutingParams): RoutingAct {
    if (!this.moeDone) {
      const T = this.o.maxTokens;
      const k = p.n_expert_used;
      this.moe = r16(T * k * 4) * 2 + r16(p.n_expert * 4) + r16(p.n_expert * T * 4) + r16(p.n_expert * 24);
      this.moeDone = true;
    }
    this.ops++;
    return { label: 'routing', k: p.n_expert_used };
  }
  experts(x: Act, routing: RoutingAct, experts: ExpertWeights, _act: GluActivation, out: Act): void {
    const nFf = experts.up[0]!.rows;
    this.act('ffn_moe_gate', nFf, routing.k);
    this.act('ffn_moe_up', nFf, routing.k);
    this.act('ffn_moe_down', out.cols, routing.k);
    for (const h of [experts.gate[0]!, experts.down[0]!]) this.input(h, h === experts.down[0] ? { label: 'ffn_moe_gate', cols: nFf, rowsPerToken: routing.k } : x);
    this.glu();
    this.ops += 3 * experts.up.length + 2;
  }
  logits(x: Act, output: WeightHandle, logitScale: number): void {
    this.acts.set('result_output', { cols: output.rows, rows: this.o.maxLogitRows });
    this.input(output, x);
    this.ops += logitScale !== 1 ? 2 : 1;
  }
}

export function estimateGraphSize(cfg: ModelConfig, weights: ModelWeights, o: GraphSizeOptions): GraphSize {
  const s = new SizingOps(o);
  ARCHITECTURES[cfg.arch](s, cfg, weights);
  let acts = 0;
  for (const a of s.acts.values()) acts += r16(a.rows * a.cols * 4);
  // converted activation copies: at most values + a scale per 8 values, per weight format (q8 blocks, f16 rows)
  const converted = s.convertedFormats.size * (r16(s.convertedValues * 2) + r16(s.convertedValues / 2));
  const fixed = r16(32) + r16(o.maxTokens * 4) + 16 * 2; // step uniform, token ids, sample out, dummy
  const nVocab = s.acts.get('result_output')?.cols ?? cfg.n_vocab;
  const runner = 32 + r16(Math.ceil(nVocab / 32) * 4) + 16 + (o.maxLogitRows > 1 ? r16(o.maxLogitRows * nVocab * 4) : 0);
  const executor = cfg.n_expert > 0 ? executorBufferBytes(o.maxTokens, cfg.n_expert_used, cfg.n_embd) : 0;
  return { kvCache: s.kv, activations: acts + converted + fixed + s.tables + s.moe + s.ops * UNIFORM + runner + executor };
}
