/**
 * The weights of a model as backend-neutral handles (weights.ts), by GGUF tensor name: what the forward
 * pass reads. Nothing is loaded here; a backend uploads or places the handles it is given. Expert tensors
 * {n_embd, n_ff, n_expert} become one handle per expert slab.
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
  attn_q_norm?: VectorHandle;
  attn_k_norm?: VectorHandle;
  /** grok: RMS norm of the attention output before the residual add. */
  attn_out_norm?: VectorHandle;
  ffn_norm: VectorHandle;
  router?: WeightHandle;
  experts?: ExpertWeights;
  shared?: SharedExpert;
  /** dense FFN (dense models, or grok's optional parallel dense FFN) */
  ffn_gate?: WeightHandle;
  ffn_up?: WeightHandle;
  ffn_down?: WeightHandle;
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
  if (Object.values(cfg.attn_bias).some(Boolean)) missing.push('attention biases');
  if (Object.values(cfg.ffn_bias).some(Boolean)) missing.push('FFN biases');
  if (cfg.rope_freq_factors) missing.push('RoPE frequency factors (rope_freqs)');
  if (cfg.f_final_logit_softcapping) missing.push('final logit soft-capping');
  if (cfg.n_expert > 0 && !cfg.expert_gate) missing.push('experts without a gate projection');
  return missing;
}

const label = (tensor: string) => tensor.replace(/\.weight$/, '');

/** Handles of the weights the forward pass of `cfg` reads from `file`. */
export function modelWeights(file: GgufFile, cfg: ModelConfig): ModelWeights {
  assertSupported(cfg);
  const info = (name: string) => {
    const t = file.tensorByName.get(name);
    if (!t) throw new Error(`tensor ${name} is missing`);
    return t;
  };
  const has = (name: string) => file.tensorByName.has(name);
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
  const optMat = (name: string) => (has(name) ? mat(name) : undefined);
  const optVec = (name: string) => (has(name) ? vec(name) : undefined);

  const tok_embd = mat('token_embd.weight');
  const layers: LayerWeights[] = [];
  for (let il = 0; il < cfg.n_layer; il++) {
    const b = `blk.${il}.`;
    const lw: LayerWeights = {
      attn_norm: vec(`${b}attn_norm.weight`),
      wq: mat(`${b}attn_q.weight`),
      wk: mat(`${b}attn_k.weight`),
      wv: mat(`${b}attn_v.weight`),
      wo: mat(`${b}attn_output.weight`),
      attn_q_norm: optVec(`${b}attn_q_norm.weight`),
      attn_k_norm: optVec(`${b}attn_k_norm.weight`),
      attn_out_norm: optVec(`${b}attn_output_norm.weight`),
      ffn_norm: vec(`${b}ffn_norm.weight`),
      ffn_post_norm: optVec(`${b}layer_output_norm.weight`) ?? optVec(`${b}post_ffw_norm.weight`),
      ffn_gate: optMat(`${b}ffn_gate.weight`),
      ffn_up: optMat(`${b}ffn_up.weight`),
      ffn_down: optMat(`${b}ffn_down.weight`),
    };
    if (cfg.n_expert > 0) {
      lw.router = mat(`${b}ffn_gate_inp.weight`);
      lw.experts = {
        gate: slabs(`${b}ffn_gate_exps.weight`, cfg.n_expert),
        up: slabs(`${b}ffn_up_exps.weight`, cfg.n_expert),
        down: slabs(`${b}ffn_down_exps.weight`, cfg.n_expert),
      };
      if (has(`${b}ffn_up_shexp.weight`)) {
        lw.shared = {
          gate: mat(`${b}ffn_gate_shexp.weight`),
          up: mat(`${b}ffn_up_shexp.weight`),
          down: mat(`${b}ffn_down_shexp.weight`),
          gateInp: optMat(`${b}ffn_gate_inp_shexp.weight`),
        };
      }
    }
    layers.push(lw);
  }
  return { tok_embd, output_norm: vec('output_norm.weight'), output: optMat('output.weight') ?? tok_embd, layers };
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

/** Every vector handle of the model. */
export function allVectors(w: ModelWeights): VectorHandle[] {
  const out: VectorHandle[] = [w.output_norm];
  for (const l of w.layers) {
    for (const v of [l.attn_norm, l.attn_q_norm, l.attn_k_norm, l.attn_out_norm, l.ffn_norm, l.ffn_post_norm]) if (v) out.push(v);
  }
  return out;
}
