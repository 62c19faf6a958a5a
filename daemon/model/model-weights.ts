/**
 * The weights of a model as backend-neutral handles (weights.ts), by GGUF tensor name: what the forward
 * pass reads. Nothing is loaded here; a backend uploads or places the handles it is given. Expert tensors
 * {n_embd, n_ff, n_expert} become one handle per expert slab; old Mixtral files' per-expert 2-D tensors
 * (blk.N.ffn_up.E.weight) are one handle each, so both layouts give the same ExpertWeights.
 */
import type { GgufFile } from '../gguf/gguf-reader.js';
import type { ModelConfig } from './hparams.js';
import { expertMatrices, type ExpertWeights, type SharedExpert, type VectorHandle, type WeightHandle } from './weights.js';

export interface LayerWeights {
  attn_norm: VectorHandle;
  wq: WeightHandle;
  wk: WeightHandle;
  wv: WeightHandle;
  wo: WeightHandle;
  /** Biases of the q/k/v/output projections ([rows of the projection]), when the model has them. */
  bq?: VectorHandle;
  bk?: VectorHandle;
  bv?: VectorHandle;
  bo?: VectorHandle;
  attn_q_norm?: VectorHandle;
  attn_k_norm?: VectorHandle;
  /** grok: RMS norm of the attention output before the residual add. */
  attn_out_norm?: VectorHandle;
  /** rope_freqs [n_rot/2] (one tensor shared by every layer), when the model has it. */
  rope_freqs?: VectorHandle;
  ffn_norm: VectorHandle;
  router?: WeightHandle;
  experts?: ExpertWeights;
  shared?: SharedExpert;
  /** dense FFN (dense models, or grok's optional parallel dense FFN) */
  ffn_gate?: WeightHandle;
  ffn_up?: WeightHandle;
  ffn_down?: WeightHandle;
  /** Dense FFN biases (llama, granitemoe): gate and up [n_ff], down [n_embd]. */
  ffn_gate_b?: VectorHandle;
  ffn_up_b?: VectorHandle;
  ffn_down_b?: VectorHandle;
  /** grok: RMS norm of the FFN output before the residual add. */
  ffn_post_norm?: VectorHandle;
}

export interface ModelWeights {
  tok_embd: WeightHandle;
  output_norm: VectorHandle;
  /** The output projection; the token embedding matrix when tied. */
  output: WeightHandle;
  layers: LayerWeights[];
}

/** Features llama.cpp accepts that this engine does not run yet: refused up front with a clear error. */
function assertSupported(cfg: ModelConfig): void {
  const missing = unsupportedFeatures(cfg);
  if (missing.length) throw new Error(`${cfg.name}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not supported yet`);
}

/** The features of `cfg` llama.cpp runs and this engine does not yet (model-check.ts reports them all). */
export function unsupportedFeatures(cfg: ModelConfig): string[] {
  const missing: string[] = [];
  if (cfg.f_final_logit_softcapping) missing.push('final logit soft-capping');
  if (cfg.n_expert > 0 && !cfg.expert_gate) missing.push('experts without a gate projection');
  return missing;
}

const label = (tensor: string) => tensor.replace(/\.weight$/, '');

/** Handles of the weights the forward pass of `cfg` reads from `file` (the tensors readModelConfig validated). */
export function modelWeights(file: GgufFile, cfg: ModelConfig): ModelWeights {
  assertSupported(cfg);
  const info = (name: string) => {
    const t = file.tensorByName.get(name);
    if (!t) throw new Error(`tensor ${name} is missing`);
    return t;
  };
  const mat = (name: string): WeightHandle => {
    const t = info(name);
    return { tensor: name, name: label(name), type: t.type, cols: t.dims[0]!, rows: t.dims[1] ?? 1 };
  };
  const vec = (name: string): VectorHandle => ({ tensor: name, name: label(name), n: info(name).nElements });
  const slabs = (name: string, n: number): WeightHandle[] => {
    const t = info(name);
    if ((t.dims[2] ?? 1) !== n) throw new Error(`${name} holds ${t.dims[2] ?? 1} experts, expected ${n}`);
    return Array.from({ length: n }, (_, e) => ({ tensor: name, name: `${label(name)}.e${e}`, type: t.type, cols: t.dims[0]!, rows: t.dims[1] ?? 1, expert: e }));
  };
  /** The experts of one projection: slabs of a 3-D tensor, or one 2-D tensor per expert (old Mixtral files). */
  const experts = (merged: string | undefined, each: string[] | undefined): WeightHandle[] => {
    if (each) return each.map(mat);
    if (!merged) throw new Error('expert tensors are missing');
    return slabs(merged, cfg.n_expert);
  };
  const optMat = (name: string | undefined) => (name ? mat(name) : undefined);
  const optVec = (name: string | undefined) => (name ? vec(name) : undefined);

  const T = cfg.tensors;
  const tok_embd = mat(T.token_embd);
  const rope_freqs = optVec(T.rope_freqs);
  const layers = T.layers.map((L): LayerWeights => {
    const lw: LayerWeights = {
      attn_norm: vec(L.attn_norm),
      wq: mat(L.attn_q),
      wk: mat(L.attn_k),
      wv: mat(L.attn_v),
      wo: mat(L.attn_output),
      bq: optVec(L.attn_q_bias),
      bk: optVec(L.attn_k_bias),
      bv: optVec(L.attn_v_bias),
      bo: optVec(L.attn_output_bias),
      attn_q_norm: optVec(L.attn_q_norm),
      attn_k_norm: optVec(L.attn_k_norm),
      attn_out_norm: optVec(L.attn_output_norm),
      rope_freqs,
      ffn_norm: vec(L.ffn_norm),
      ffn_post_norm: optVec(L.ffn_post_norm),
      ffn_gate: optMat(L.ffn_gate),
      ffn_up: optMat(L.ffn_up),
      ffn_down: optMat(L.ffn_down),
      ffn_gate_b: optVec(L.ffn_gate_bias),
      ffn_up_b: optVec(L.ffn_up_bias),
      ffn_down_b: optVec(L.ffn_down_bias),
    };
    if (cfg.n_expert > 0) {
      lw.router = mat(L.ffn_gate_inp!);
      lw.experts = {
        gate: experts(L.ffn_gate_exps, L.ffn_gate_exp),
        up: experts(L.ffn_up_exps, L.ffn_up_exp),
        down: experts(L.ffn_down_exps, L.ffn_down_exp),
      };
      if (L.ffn_up_shexp) {
        lw.shared = { gate: mat(L.ffn_gate_shexp!), up: mat(L.ffn_up_shexp), down: mat(L.ffn_down_shexp!) };
        if (L.ffn_gate_inp_shexp) lw.shared.gateInp = mat(L.ffn_gate_inp_shexp);
      }
    }
    return lw;
  });
  return { tok_embd, output_norm: vec(T.output_norm), output: mat(T.output), layers };
}

/** Every matrix handle of the model, each once (a tied output is the embedding). */
export function allMatrices(w: ModelWeights): WeightHandle[] {
  const seen = new Set<string>();
  const out: WeightHandle[] = [];
  const add = (h: WeightHandle | undefined) => {
    if (h && !seen.has(h.name)) {
      seen.add(h.name);
      out.push(h);
    }
  };
  add(w.tok_embd);
  for (const l of w.layers) {
    [l.wq, l.wk, l.wv, l.wo, l.router, l.ffn_gate, l.ffn_up, l.ffn_down].forEach(add);
    if (l.experts) expertMatrices(l.experts).forEach(add);
    if (l.shared) [l.shared.gate, l.shared.up, l.shared.down, l.shared.gateInp].forEach(add);
  }
  add(w.output);
  return out;
}

/** Every vector handle of the model (norms, biases, RoPE frequency factors), each once. */
export function allVectors(w: ModelWeights): VectorHandle[] {
  const seen = new Set<string>();
  const out: VectorHandle[] = [];
  const add = (v: VectorHandle | undefined) => {
    if (v && !seen.has(v.name)) {
      seen.add(v.name);
      out.push(v);
    }
  };
  add(w.output_norm);
  for (const l of w.layers) {
    [l.attn_norm, l.bq, l.bk, l.bv, l.bo, l.attn_q_norm, l.attn_k_norm, l.attn_out_norm, l.rope_freqs, l.ffn_norm, l.ffn_gate_b, l.ffn_up_b, l.ffn_down_b, l.ffn_post_norm].forEach(add);
  }
  return out;
}
