/**
 * The GPU weights of a model, by GGUF tensor name, loaded through a WeightStore. Expert tensors are
 * split into one slab per expert.
 */
import type { GpuMatrix, GpuVector, WeightStore } from '../gpu/weight-store.js';
import type { ExpertWeights, SharedExpert } from './forward-ops.js';
import type { ModelConfig } from './hparams.js';

export interface LayerWeights {
  attn_norm: GpuVector;
  wq: GpuMatrix;
  wk: GpuMatrix;
  wv: GpuMatrix;
  wo: GpuMatrix;
  attn_q_norm?: GpuVector;
  attn_k_norm?: GpuVector;
  /** grok: RMS norm of the attention output before the residual add. */
  attn_out_norm?: GpuVector;
  ffn_norm: GpuVector;
  router?: GpuMatrix;
  experts?: ExpertWeights;
  shared?: SharedExpert;
  /** dense FFN (dense models, or grok's optional parallel dense FFN) */
  ffn_gate?: GpuMatrix;
  ffn_up?: GpuMatrix;
  ffn_down?: GpuMatrix;
  /** grok: RMS norm of the FFN output before the residual add. */
  ffn_post_norm?: GpuVector;
}

export interface ModelWeights {
  tok_embd: GpuMatrix;
  output_norm: GpuVector;
  /** The output projection; the token embedding matrix when tied. */
  output: GpuMatrix;
  layers: LayerWeights[];
}

async function expertSlabs(store: WeightStore, name: string, n: number): Promise<GpuMatrix[]> {
  const out: GpuMatrix[] = [];
  for (let e = 0; e < n; e++) out.push(await store.matrix(name, e));
  return out;
}

/** Features llama.cpp accepts that this engine does not run yet: refused up front with a clear error. */
function assertSupported(cfg: ModelConfig): void {
  const missing: string[] = [];
  if (Object.values(cfg.attn_bias).some(Boolean)) missing.push('attention biases');
  if (Object.values(cfg.ffn_bias).some(Boolean)) missing.push('FFN biases');
  if (cfg.rope_freq_factors) missing.push('RoPE frequency factors (rope_freqs)');
  if (cfg.f_final_logit_softcapping) missing.push('final logit soft-capping');
  if (cfg.n_expert > 0 && !cfg.expert_gate) missing.push('experts without a gate projection');
  if (missing.length) throw new Error(`${cfg.name}: ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not supported yet`);
}

export async function loadModelWeights(store: WeightStore, cfg: ModelConfig): Promise<ModelWeights> {
  assertSupported(cfg);
  const opt = async <T>(name: string, load: (n: string) => Promise<T>): Promise<T | undefined> =>
    store.has(name) ? load(name) : undefined;
  const vec = (n: string) => store.vector(n);
  const mat = (n: string) => store.matrix(n);

  const tok_embd = await mat('token_embd.weight');
  const output_norm = await vec('output_norm.weight');
  const output = (await opt('output.weight', mat)) ?? tok_embd;
  const layers: LayerWeights[] = [];
  for (let il = 0; il < cfg.n_layer; il++) {
    const b = `blk.${il}.`;
    const lw: LayerWeights = {
      attn_norm: await vec(`${b}attn_norm.weight`),
      wq: await mat(`${b}attn_q.weight`),
      wk: await mat(`${b}attn_k.weight`),
      wv: await mat(`${b}attn_v.weight`),
      wo: await mat(`${b}attn_output.weight`),
      attn_q_norm: await opt(`${b}attn_q_norm.weight`, vec),
      attn_k_norm: await opt(`${b}attn_k_norm.weight`, vec),
      attn_out_norm: await opt(`${b}attn_output_norm.weight`, vec),
      ffn_norm: await vec(`${b}ffn_norm.weight`),
      ffn_post_norm: (await opt(`${b}layer_output_norm.weight`, vec)) ?? (await opt(`${b}post_ffw_norm.weight`, vec)),
      ffn_gate: await opt(`${b}ffn_gate.weight`, mat),
      ffn_up: await opt(`${b}ffn_up.weight`, mat),
      ffn_down: await opt(`${b}ffn_down.weight`, mat),
    };
    if (cfg.n_expert > 0) {
      lw.router = await mat(`${b}ffn_gate_inp.weight`);
      lw.experts = {
        gate: await expertSlabs(store, `${b}ffn_gate_exps.weight`, cfg.n_expert),
        up: await expertSlabs(store, `${b}ffn_up_exps.weight`, cfg.n_expert),
        down: await expertSlabs(store, `${b}ffn_down_exps.weight`, cfg.n_expert),
      };
      if (store.has(`${b}ffn_up_shexp.weight`)) {
        lw.shared = {
          gate: await mat(`${b}ffn_gate_shexp.weight`),
          up: await mat(`${b}ffn_up_shexp.weight`),
          down: await mat(`${b}ffn_down_shexp.weight`),
          gateInp: await opt(`${b}ffn_gate_inp_shexp.weight`, mat),
        };
      }
    }
    layers.push(lw);
  }
  return { tok_embd, output_norm, output, layers };
}
