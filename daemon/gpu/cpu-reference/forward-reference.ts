/**
 * An independent, readable CPU forward pass in float64 for the six MoE architectures (grok, llama /
 * Mixtral, qwen2moe, qwen3moe, olmoe, granitemoe) and dense qwen2 (biases, rope_freqs, YaRN and old
 * per-expert tensors included), used to debug and check the WebGPU engine and, in
 * turn, checked against llama.cpp (test/conformance/reference-vs-llama.test.ts). The semantics of each
 * architecture are those documented on ModelConfig (daemon/model/hparams.ts).
 *
 * Weights are read through the GGUF reader and dequantized (exact f32 values); all arithmetic is
 * float64. Where llama.cpp's CPU backend rounds visibly differently from exact arithmetic, the
 * reference can reproduce it; each emulation is a named option (ReferenceOptions, all on by default):
 *   f16Activations  round matmul inputs to f16 / bf16 for F16 / BF16 weights
 *   q8Activations   quantize matmul inputs to the weight's Q8 activation format (Q8_0, Q8_1, Q8_K)
 *   geluF16Table    GELU through ggml's f16 lookup table (grok)
 *   ropeF32Theta    RoPE angles computed in f32 as ggml-cpu does (matters from a few hundred positions)
 * Turn them all off (EXACT_NUMERICS) to get the "ideal" model.
 *
 * Limits of agreement with llama.cpp: the emulated roundings (f16, Q8_0 blocks, the GELU table) make the
 * result a step function of the activations. Where ggml's f32 value and ours (float64) fall on either
 * side of a rounding boundary, one element differs by a whole f16 ulp or Q8_0 step; such "flips" are
 * rare but can move log-probabilities by 1e-3 (f16) to 1e-1 (Q8_0), and through attention they carry
 * to later positions. F32 weights without GELU have no such steps and agree to ~1e-5.
 *
 * Intermediates can be captured per layer under llama.cpp's cb() names (`attn_norm-0`, `Qcur-0`,
 * `kqv_out-0`, `ffn_moe_weights_norm-1`, `l_out-1`, `result_norm`, `result_output`, …) through
 * ReferenceOptions.capture.
 */
import { dequantizeRow } from '../../gguf/quantize.js';
import { openGguf, readTensorBytes } from '../../gguf/gguf-reader.js';
import type { GgufFile } from '../../gguf/gguf-reader.js';
import { KNOWN_WEIGHT_TYPES } from '../../formats/table.js';
import { readModelConfig } from '../../model/hparams.js';
import type { LayerTensors, ModelConfig } from '../../model/hparams.js';
import { geluExact, geluGgml, silu } from './ggml-numerics.js';
import { addBiasInPlace, addInPlace, blockMinsOf, logSoftmax, matmul, rmsNorm, ropeInPlace, scaleInPlace, softmaxInPlace } from './reference-ops.js';
import type { ActivationEmulation, RefMatrix, RopeParams } from './reference-ops.js';

export interface ReferenceOptions extends ActivationEmulation {
  /** GELU via ggml's f16 table (GGML_GELU_FP16) instead of the exact tanh approximation. */
  geluF16Table: boolean;
  /** RoPE angles as ggml-cpu computes them in f32 instead of exactly. */
  ropeF32Theta: boolean;
  /**
   * Called with each named intermediate: `name` is llama.cpp's cb() name with `-il` appended for
   * per-layer tensors; `value` is row-major [n_tokens, width] (shape = [n_tokens, width]).
   */
  capture?: (name: string, value: Float64Array, shape: [number, number]) => void;
}

export const LLAMA_CPP_NUMERICS: Readonly<ReferenceOptions> = { f16Activations: true, q8Activations: true, geluF16Table: true, ropeF32Theta: true };
export const EXACT_NUMERICS: Readonly<ReferenceOptions> = { f16Activations: false, q8Activations: false, geluF16Table: false, ropeF32Theta: false };

type Vec = Float32Array;

interface LayerWeights {
  attn_norm: Vec;
  wq: RefMatrix; // [n_head·head_dim, n_embd]
  wk: RefMatrix; // [n_head_kv·head_dim, n_embd]
  wv: RefMatrix;
  wo: RefMatrix; // [n_embd, n_head·head_dim]
  bq?: Vec;
  bk?: Vec;
  bv?: Vec;
  bo?: Vec;
  attn_q_norm?: Vec;
  attn_k_norm?: Vec;
  attn_output_norm?: Vec; // grok
  ffn_norm: Vec;
  ffn_post_norm?: Vec; // grok
  router?: RefMatrix; // [n_expert, n_embd]
  gate_exps?: RefMatrix[]; // [n_expert] of [n_ff_exp, n_embd]
  up_exps?: RefMatrix[];
  down_exps?: RefMatrix[]; // [n_expert] of [n_embd, n_ff_exp]
  gate_inp_shexp?: Vec; // qwen2moe [n_embd]
  gate_shexp?: RefMatrix;
  up_shexp?: RefMatrix;
  down_shexp?: RefMatrix;
  ffn_gate?: RefMatrix; // dense FFN (or grok's parallel dense FFN)
  ffn_up?: RefMatrix;
  ffn_down?: RefMatrix;
  ffn_gate_b?: Vec;
  ffn_up_b?: Vec;
  ffn_down_b?: Vec;
}

interface ModelWeights {
  tok_embd: RefMatrix; // [n_vocab, n_embd]
  output_norm: Vec;
  output: RefMatrix; // [n_vocab, n_embd] (token_embd when tied)
  rope_freqs: Vec | null;
  layers: LayerWeights[];
}

async function loadWeights(f: GgufFile, cfg: ModelConfig): Promise<ModelWeights> {
  const raw = async (name: string) => {
    const t = f.tensorByName.get(name);
    if (!t) throw new Error(`${f.path}: missing tensor ${name}`);
    const bytes = await readTensorBytes(f, t);
    return { t, data: dequantizeRow(t.type, bytes, t.nElements), mins: blockMinsOf(t.type, bytes, t.nElements) };
  };
  const vec = async (name: string | undefined): Promise<Vec | undefined> => (name === undefined ? undefined : (await raw(name)).data);
  const mat = async (name: string | undefined): Promise<RefMatrix | undefined> => {
    if (name === undefined) return undefined;
    const { t, data, mins } = await raw(name);
    return { name, type: t.type, cols: t.dims[0]!, rows: t.dims[1]!, data, blockMins: mins };
  };
  const experts = async (name: string | undefined, each?: string[]): Promise<RefMatrix[] | undefined> => {
    if (each) return Promise.all(each.map(async (e) => (await mat(e))!));
    if (name === undefined) return undefined;
    const { t, data, mins } = await raw(name);
    const [cols, rows, nExp] = t.dims as [number, number, number];
    const minsPer = mins ? mins.length / nExp : 0;
    return Array.from({ length: nExp }, (_, e) => ({
      name: `${name}[${e}]`,
      type: t.type,
      cols,
      rows,
      data: data.subarray(e * rows * cols, (e + 1) * rows * cols),
      blockMins: mins?.subarray(e * minsPer, (e + 1) * minsPer),
    }));
  };
  const layer = async (L: LayerTensors): Promise<LayerWeights> => ({
    attn_norm: (await vec(L.attn_norm))!,
    wq: (await mat(L.attn_q))!,
    wk: (await mat(L.attn_k))!,
    wv: (await mat(L.attn_v))!,
    wo: (await mat(L.attn_output))!,
    bq: await vec(L.attn_q_bias),
    bk: await vec(L.attn_k_bias),
    bv: await vec(L.attn_v_bias),
    bo: await vec(L.attn_output_bias),
    attn_q_norm: await vec(L.attn_q_norm),
    attn_k_norm: await vec(L.attn_k_norm),
    attn_output_norm: await vec(L.attn_output_norm),
    ffn_norm: (await vec(L.ffn_norm))!,
    ffn_post_norm: await vec(L.ffn_post_norm),
    router: await mat(L.ffn_gate_inp),
    gate_exps: await experts(L.ffn_gate_exps, L.ffn_gate_exp),
    up_exps: await experts(L.ffn_up_exps, L.ffn_up_exp),
    down_exps: await experts(L.ffn_down_exps, L.ffn_down_exp),
    gate_inp_shexp: await vec(L.ffn_gate_inp_shexp),
    gate_shexp: await mat(L.ffn_gate_shexp),
    up_shexp: await mat(L.ffn_up_shexp),
    down_shexp: await mat(L.ffn_down_shexp),
    ffn_gate: await mat(L.ffn_gate),
    ffn_up: await mat(L.ffn_up),
    ffn_down: await mat(L.ffn_down),
    ffn_gate_b: await vec(L.ffn_gate_bias),
    ffn_up_b: await vec(L.ffn_up_bias),
    ffn_down_b: await vec(L.ffn_down_bias),
  });
  const T = cfg.tensors;
  const tok_embd = (await mat(T.token_embd))!;
  const layers: LayerWeights[] = [];
  for (const L of T.layers) layers.push(await layer(L));
  return {
    tok_embd,
    output_norm: (await vec(T.output_norm))!,
    output: T.output === T.token_embd ? tok_embd : (await mat(T.output))!,
    rope_freqs: (await vec(T.rope_freqs)) ?? null,
    layers,
  };
}

/** A loaded model with a KV cache: feed a prompt, then single tokens, to `eval`. */
export class ReferenceModel {
  private kCache: Float64Array[][] = []; // [il][pos] → [n_head_kv·head_dim] (after RoPE)
  private vCache: Float64Array[][] = []; // [il][pos] → [n_head_kv·head_dim]
  private readonly rope: RopeParams;

  private constructor(
    readonly cfg: ModelConfig,
    private readonly w: ModelWeights,
    readonly opts: ReferenceOptions,
  ) {
    this.rope = {
      n_rot: cfg.n_rot,
      mode: cfg.rope_type,
      freq_base: cfg.rope.freq_base,
      freq_scale: cfg.rope.freq_scale,
      attn_factor: cfg.rope.attn_factor,
      factors: w.rope_freqs,
      yarn: cfg.rope.ext_factor !== 0 ? { ext_factor: cfg.rope.ext_factor, beta_fast: cfg.rope.beta_fast, beta_slow: cfg.rope.beta_slow, n_ctx_orig: cfg.rope.n_ctx_orig } : undefined,
      f32Theta: opts.ropeF32Theta,
    };
    this.reset();
  }

  static async load(modelPath: string, opts: Partial<ReferenceOptions> = {}): Promise<ReferenceModel> {
    const f = await openGguf(modelPath);
    try {
      const cfg = readModelConfig(f, { weightTypes: KNOWN_WEIGHT_TYPES });
      return new ReferenceModel(cfg, await loadWeights(f, cfg), { ...LLAMA_CPP_NUMERICS, ...opts });
    } finally {
      await f.close();
    }
  }

  /** Tokens evaluated so far (the next token's position). */
  get nPast(): number {
    return this.kCache[0]?.length ?? 0;
  }

  /** Forgets the evaluated tokens (empties the KV cache). */
  reset(): void {
    this.kCache = Array.from({ length: this.cfg.n_layer }, () => []);
    this.vCache = Array.from({ length: this.cfg.n_layer }, () => []);
  }

  /** Evaluates `tokens` after the cached ones; returns log-softmax over the vocabulary per token. */
  eval(tokens: number[]): Float64Array[] {
    const { cfg, w } = this;
    const n = tokens.length;
    const E = cfg.n_embd;
    const pos = tokens.map((_, i) => this.nPast + i);
    for (const t of tokens) if (!(Number.isInteger(t) && t >= 0 && t < cfg.n_vocab)) throw new Error(`token ${t} outside the vocabulary [0, ${cfg.n_vocab})`);

    // [n, n_embd] token embeddings
    let x: Float64Array = new Float64Array(n * E);
    tokens.forEach((t, i) => x.set(w.tok_embd.data.subarray(t * E, (t + 1) * E), i * E));
    if (cfg.f_embedding_scale !== 1) scaleInPlace(x, cfg.f_embedding_scale);
    this.cap('embd', x, n);

    for (let il = 0; il < cfg.n_layer; il++) {
      const lw = w.layers[il]!;
      const inpSA = x;
      const xn = rmsNorm(x, E, lw.attn_norm, cfg.f_norm_rms_eps);
      this.cap(`attn_norm-${il}`, xn, n);
      let attn = this.attention(lw, il, xn, n, pos);
      if (lw.attn_output_norm) {
        attn = rmsNorm(attn, E, lw.attn_output_norm, cfg.f_norm_rms_eps);
        this.cap(`attn_out_norm-${il}`, attn, n);
      }
      if (cfg.f_residual_scale !== 1) scaleInPlace(attn, cfg.f_residual_scale);
      const ffnInp = addInPlace(attn, inpSA);
      this.cap(`ffn_inp-${il}`, ffnInp, n);

      const fn = rmsNorm(ffnInp, E, lw.ffn_norm, cfg.f_norm_rms_eps);
      this.cap(`ffn_norm-${il}`, fn, n);
      let ffn: Float64Array;
      if (cfg.n_expert === 0) {
        ffn = this.ffn(lw.ffn_gate, lw.ffn_up!, lw.ffn_down!, fn, n, lw);
        this.cap(`ffn_out-${il}`, ffn, n);
      } else {
        ffn = this.moe(lw, il, fn, n);
        if (cfg.moe_dense_parallel) {
          const dense = this.ffn(lw.ffn_gate, lw.ffn_up!, lw.ffn_down!, fn, n, lw);
          ffn = scaleInPlace(addInPlace(dense, ffn), Math.fround(Math.SQRT2 / 2));
          this.cap(`ffn_out-${il}`, ffn, n);
        }
      }
      if (lw.ffn_post_norm) {
        ffn = rmsNorm(ffn, E, lw.ffn_post_norm, cfg.f_norm_rms_eps);
        this.cap(`ffn_post_norm-${il}`, ffn, n);
      }
      if (cfg.f_residual_scale !== 1) scaleInPlace(ffn, cfg.f_residual_scale);
      x = addInPlace(ffn, ffnInp);
      this.cap(`l_out-${il}`, x, n);
    }

    const xn = rmsNorm(x, E, w.output_norm, cfg.f_norm_rms_eps);
    this.cap('result_norm', xn, n);
    const logits = matmul(w.output, xn, n, this.opts); // [n, n_vocab]
    if (cfg.f_logit_mul !== 1) scaleInPlace(logits, cfg.f_logit_mul);
    const c = cfg.f_final_logit_softcapping;
    if (c !== 0) for (let i = 0; i < logits.length; i++) logits[i] = c * Math.tanh(logits[i]! / c);
    this.cap('result_output', logits, n);
    const V = cfg.n_vocab;
    return Array.from({ length: n }, (_, t) => logSoftmax(logits.slice(t * V, (t + 1) * V)));
  }

  /** Self-attention of the n new tokens over the cache plus themselves (causal); returns [n, n_embd]. */
  private attention(lw: LayerWeights, il: number, xn: Float64Array, n: number, pos: number[]): Float64Array {
    const { cfg, opts } = this;
    const H = cfg.n_head;
    const Hkv = cfg.n_head_kv;
    const dk = cfg.n_embd_head_k;
    const dv = cfg.n_embd_head_v;
    let q = addBiasInPlace(matmul(lw.wq, xn, n, opts), lw.bq); // [n, H·dk]
    let k = addBiasInPlace(matmul(lw.wk, xn, n, opts), lw.bk); // [n, Hkv·dk]
    const v = addBiasInPlace(matmul(lw.wv, xn, n, opts), lw.bv); // [n, Hkv·dv]
    if (cfg.qk_norm !== 'none') {
      const perHead = cfg.qk_norm === 'per-head';
      q = rmsNorm(q, perHead ? dk : H * dk, lw.attn_q_norm!, cfg.f_norm_rms_eps);
      k = rmsNorm(k, perHead ? dk : Hkv * dk, lw.attn_k_norm!, cfg.f_norm_rms_eps);
      this.cap(`Qcur_normed-${il}`, q, n);
      this.cap(`Kcur_normed-${il}`, k, n);
    }
    ropeInPlace(q, n, H, dk, pos, this.rope);
    ropeInPlace(k, n, Hkv, dk, pos, this.rope);
    this.cap(`Qcur-${il}`, q, n);
    this.cap(`Kcur-${il}`, k, n);
    this.cap(`Vcur-${il}`, v, n);
    for (let t = 0; t < n; t++) {
      this.kCache[il]!.push(k.slice(t * Hkv * dk, (t + 1) * Hkv * dk));
      this.vCache[il]!.push(v.slice(t * Hkv * dv, (t + 1) * Hkv * dv));
    }
    const K = this.kCache[il]!;
    const Vc = this.vCache[il]!;
    const group = H / Hkv; // q head h reads kv head floor(h / group)
    const grok = cfg.arch === 'grok'; // grok: cap·tanh(kq·out_scale/cap), then softmax with scale 1
    const cap = cfg.f_attn_logit_softcapping;
    const kqScale = grok ? cfg.f_attn_out_scale : cfg.f_attention_scale || 1 / Math.sqrt(dk);
    const out = new Float64Array(n * H * dv); // [n, H·dv]
    for (let t = 0; t < n; t++) {
      const nKv = pos[t]! + 1;
      for (let h = 0; h < H; h++) {
        const hk = Math.floor(h / group);
        const qo = (t * H + h) * dk;
        const s = new Float64Array(nKv);
        for (let j = 0; j < nKv; j++) {
          let d = 0;
          for (let i = 0; i < dk; i++) d += q[qo + i]! * K[j]![hk * dk + i]!;
          d *= kqScale;
          s[j] = cap > 0 ? cap * Math.tanh(d / cap) : d;
        }
        softmaxInPlace(s);
        const oo = (t * H + h) * dv;
        for (let j = 0; j < nKv; j++) {
          const vj = Vc[j]!;
          for (let i = 0; i < dv; i++) out[oo + i]! += s[j]! * vj[hk * dv + i]!;
        }
      }
    }
    this.cap(`kqv_out-${il}`, out, n);
    const o = addBiasInPlace(matmul(lw.wo, out, n, opts), lw.bo);
    this.cap(`attn_out-${il}`, o, n);
    return o;
  }

  private act(x: number): number {
    if (this.cfg.ffn_act === 'silu') return silu(x);
    return this.opts.geluF16Table ? geluGgml(x) : geluExact(x);
  }

  /**
   * down·(act(gate·x) ⊙ (up·x)), or down·act(up·x) without a gate: one expert, the shared expert or
   * the dense FFN (with its optional biases when `biases` is the layer).
   */
  private ffn(gate: RefMatrix | undefined, up: RefMatrix, down: RefMatrix, x: Float64Array, n: number, biases?: LayerWeights): Float64Array {
    const u = addBiasInPlace(matmul(up, x, n, this.opts), biases?.ffn_up_b);
    if (gate) {
      const g = addBiasInPlace(matmul(gate, x, n, this.opts), biases?.ffn_gate_b);
      for (let i = 0; i < g.length; i++) u[i] = this.act(g[i]!) * u[i]!;
    } else {
      for (let i = 0; i < u.length; i++) u[i] = this.act(u[i]!);
    }
    return addBiasInPlace(matmul(down, u, n, this.opts), biases?.ffn_down_b);
  }

  /**
   * The MoE FFN, routing order as llm_graph_context::build_moe_ffn: router logits → softmax over all
   * experts → top-k by probability (ties to the lower index) → weights = selected probabilities →
   * divided by their sum when expert_weights_norm → Σ_k weight_k · expert_k(x); plus the shared expert.
   */
  private moe(lw: LayerWeights, il: number, x: Float64Array, n: number): Float64Array {
    const { cfg } = this;
    const E = cfg.n_embd;
    const X = cfg.n_expert;
    const K = cfg.n_expert_used;
    const logits = matmul(lw.router!, x, n, this.opts); // [n, n_expert]
    this.cap(`ffn_moe_logits-${il}`, logits, n);
    const probs = new Float64Array(n * X);
    const topk = new Float64Array(n * K);
    const weights = new Float64Array(n * K);
    const weightsNorm = new Float64Array(n * K);
    const out = new Float64Array(n * E); // [n, n_embd]
    for (let t = 0; t < n; t++) {
      const p = softmaxInPlace(logits.slice(t * X, (t + 1) * X));
      probs.set(p, t * X);
      const sel = Array.from({ length: X }, (_, e) => e)
        .sort((a, b) => p[b]! - p[a]! || a - b)
        .slice(0, K);
      let sum = 0;
      for (const e of sel) sum += p[e]!;
      const denom = cfg.expert_weights_norm ? Math.max(sum, 6.103515625e-5) : 1;
      const xt = x.subarray(t * E, (t + 1) * E);
      sel.forEach((e, j) => {
        topk[t * K + j] = e;
        weights[t * K + j] = p[e]!;
        const wgt = (weightsNorm[t * K + j] = p[e]! / denom);
        const y = this.ffn(lw.gate_exps?.[e], lw.up_exps![e]!, lw.down_exps![e]!, xt, 1);
        for (let i = 0; i < E; i++) out[t * E + i]! += wgt * y[i]!;
      });
    }
    this.cap(`ffn_moe_probs-${il}`, probs, n);
    this.cap(`ffn_moe_topk-${il}`, topk, n);
    this.cap(`ffn_moe_weights-${il}`, weights, n);
    this.cap(`ffn_moe_weights_norm-${il}`, weightsNorm, n);
    this.cap(`ffn_moe_out-${il}`, out, n);
    if (cfg.shared_expert === 'none') return out;

    const sh = this.ffn(lw.gate_shexp, lw.up_shexp!, lw.down_shexp!, x, n);
    this.cap(`ffn_shexp-${il}`, sh, n);
    if (cfg.shared_expert === 'sigmoid-gated') {
      const g = lw.gate_inp_shexp!;
      const gate = new Float64Array(n);
      for (let t = 0; t < n; t++) {
        let d = 0;
        for (let i = 0; i < E; i++) d += g[i]! * x[t * E + i]!;
        gate[t] = 1 / (1 + Math.exp(-d));
        for (let i = 0; i < E; i++) sh[t * E + i]! *= gate[t]!;
      }
      this.cap(`ffn_shexp_gate-${il}`, gate, n);
    }
    addInPlace(out, sh);
    this.cap(`ffn_out-${il}`, out, n);
    return out;
  }

  private cap(name: string, value: Float64Array, n: number): void {
    this.opts.capture?.(name, value, [n, value.length / n]);
  }

  /** Greedy continuation: argmax of `last`, then of each following distribution (evaluates nNew-1 tokens). */
  greedyFrom(last: Float64Array, nNew: number): number[] {
    const out: number[] = [];
    let lp = last;
    for (let i = 0; i < nNew; i++) {
      const t = argmax(lp);
      out.push(t);
      if (i + 1 < nNew) lp = this.eval([t])[0]!;
    }
    return out;
  }
}

/** Index of the largest value (the first one on ties). */
export function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** Log-softmax over the vocabulary after each position of `tokens` ([n_tokens][n_vocab]). */
export async function referenceLogprobs(modelPath: string, tokens: number[], opts: Partial<ReferenceOptions> = {}): Promise<Float64Array[]> {
  const m = await ReferenceModel.load(modelPath, opts);
  return m.eval(tokens);
}

/** Per-position log-softmax of the prompt and its greedy continuation of `nGreedy` tokens. */
export async function referenceRun(modelPath: string, tokens: number[], nGreedy: number, opts: Partial<ReferenceOptions> = {}): Promise<{ logprobs: Float64Array[]; greedy: number[] }> {
  const m = await ReferenceModel.load(modelPath, opts);
  const logprobs = m.eval(tokens);
  return { logprobs, greedy: nGreedy > 0 ? m.greedyFrom(logprobs[logprobs.length - 1]!, nGreedy) : [] };
}

export async function referenceGreedy(modelPath: string, tokens: number[], nGreedy: number, opts: Partial<ReferenceOptions> = {}): Promise<number[]> {
  return (await referenceRun(modelPath, tokens, nGreedy, opts)).greedy;
}
