/**
 * The backend interface the forward pass is written against. Architecture files and the shared blocks
 * only call these ops, with backend-neutral weight handles (weights.ts); the WebGPU graph builder
 * records them once at load time into dispatches, the CPU backend into a program its workers run, and a
 * backend may split a step into segments (a GPU pass, host work, another GPU pass) as it needs.
 *
 * An Act is an f32 activation of shape [n_tokens * rowsPerToken, cols] (rows beyond the current step's
 * token count are scratch).
 */
import type { RoutingParams } from './routing.js';
import type { ExpertWeights, VectorHandle, WeightHandle } from './weights.js';

export type { ExpertWeights, SharedExpert, VectorHandle, WeightHandle } from './weights.js';

export interface Act {
  readonly label: string;
  readonly cols: number;
  readonly rowsPerToken: number;
}

/** The routing of a step's tokens (expert ids and weights per token), as a backend holds it. */
export interface RoutingAct {
  readonly label: string;
  readonly k: number;
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
  /** rope_freqs [n_rot/2]: theta_i divided by factor_i (Llama 3.x); null when the model has none. */
  freq_factors: VectorHandle | null;
}

export interface ForwardOps {
  /** An activation buffer (allocated once, sized for the largest batch). */
  act(label: string, cols: number, rowsPerToken?: number): Act;
  /** out[t] = scale * table[token t]. */
  embed(table: WeightHandle, out: Act, scale: number): void;
  /** out = rms_norm(x) * weight, per row of x. */
  rmsNorm(x: Act, weight: VectorHandle | null, out: Act, eps: number): void;
  /** In place over rows of `rowLen` values (per-head q/k norms: rowLen = head_dim). */
  rmsNormRows(buf: Act, rowLen: number, weight: VectorHandle | null, eps: number): void;
  /** y = x W^T for every token row. */
  matmul(w: WeightHandle, x: Act, y: Act): void;
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
  /** x[r, :] += b for every row r of x (b: [x.cols]; ggml_add of a bias vector broadcast over rows). */
  addBias(x: Act, b: VectorHandle): void;
  /** dst += sigmoid(gate[t]) * src[t] per token, gate: [n_tokens, 1] (a sigmoid-gated shared expert). */
  addGated(dst: Act, src: Act, gate: Act): void;
  /** buf *= s (all token rows). */
  scale(buf: Act, s: number): void;
  /** The routing step (routing.ts) over router logits [n_tokens, n_expert]. */
  route(logits: Act, p: RoutingParams): RoutingAct;
  /**
   * The expert executor: out[t] = Σ_j weight[t, j] · FFN_{id[t, j]}(x[t]) with FFN_e(x) =
   * down_e(act(gate_e x) · up_e x), computing each selected expert wherever the backend keeps it.
   */
  experts(x: Act, routing: RoutingAct, experts: ExpertWeights, act: GluActivation, out: Act): void;
  /** Logits of the step's logits rows of x: out = (x W^T) * logitScale. */
  logits(x: Act, output: WeightHandle, logitScale: number): void;
}
