/**
 * The small backend interface the forward pass is written against. Architecture files and the shared
 * blocks only call these ops; the WebGPU graph builder records them once at load time into dispatches,
 * and another backend (e.g. one that runs some experts from host memory) can implement them differently.
 *
 * An Act is an f32 activation of shape [n_tokens * rowsPerToken, cols] (rows beyond the current step's
 * token count are scratch).
 */
import type { GpuMatrix, GpuVector } from '../gpu/weight-store.js';

export interface Act {
  readonly label: string;
  readonly cols: number;
  readonly rowsPerToken: number;
}

export type GluActivation = 'silu' | 'gelu';

export interface AttentionParams {
  n_head: number;
  n_head_kv: number;
  head_dim_k: number;
  head_dim_v: number;
  /** Multiplies q·k before soft-capping and softmax. */
  scale: number;
  /** score = softcap * tanh(score / softcap) when > 0. */
  softcap: number;
}

export interface RopeParams {
  n_head: number;
  head_dim: number;
  n_rot: number;
  mode: 'norm' | 'neox';
}

export interface MoeParams {
  n_expert: number;
  n_expert_used: number;
  /** Renormalise the chosen experts' weights to sum to 1. */
  norm_weights: boolean;
  act: GluActivation;
}

export interface ExpertWeights {
  /** One slab per expert: gate and up are [n_ff_exp, n_embd], down is [n_embd, n_ff_exp]. */
  gate: GpuMatrix[];
  up: GpuMatrix[];
  down: GpuMatrix[];
}

export interface SharedExpert {
  gate: GpuMatrix;
  up: GpuMatrix;
  down: GpuMatrix;
  /** [n_embd, 1] gate of a sigmoid-gated shared expert (qwen2moe); absent: added unweighted. */
  gateInp?: GpuMatrix;
}

export interface ForwardOps {
  /** An activation buffer (allocated once, sized for the largest batch). */
  act(label: string, cols: number, rowsPerToken?: number): Act;
  /** out[t] = scale * table[token t]. */
  embed(table: GpuMatrix, out: Act, scale: number): void;
  /** out = rms_norm(x) * weight, per row of x. */
  rmsNorm(x: Act, weight: GpuVector | null, out: Act, eps: number): void;
  /** In place over rows of `rowLen` values (per-head q/k norms: rowLen = head_dim). */
  rmsNormRows(buf: Act, rowLen: number, weight: GpuVector | null, eps: number): void;
  /** y = x W^T for every token row. */
  matmul(w: GpuMatrix, x: Act, y: Act): void;
  /** Rotates q in place. */
  ropeInPlace(q: Act, p: RopeParams): void;
  /** Rotates k into layer il's K cache and copies v into its V cache at the step's positions. */
  storeKv(il: number, k: Act, v: Act, p: RopeParams, headDimV: number): void;
  /** out = softmax(scale * q K^T (soft-capped), causal) V over layer il's cache. */
  attention(il: number, q: Act, out: Act, p: AttentionParams): void;
  /** gate = act(gate) * up, element-wise. */
  glu(gate: Act, up: Act, act: GluActivation): void;
  /** dst += scale * src. */
  add(dst: Act, src: Act, scale?: number): void;
  /** buf *= s (all token rows). */
  scale(buf: Act, s: number): void;
  /** Routed experts (and an optional shared expert) on x; the weighted sum goes to out. */
  moe(x: Act, router: GpuMatrix, experts: ExpertWeights, p: MoeParams, out: Act, shared?: SharedExpert): void;
  /** Logits of the step's logits rows of x: out = (x W^T) * logitScale. */
  logits(x: Act, output: GpuMatrix, logitScale: number): void;
}
