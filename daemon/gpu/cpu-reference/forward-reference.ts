/**
 * An independent, readable CPU forward pass in float64 for the six MoE architectures (grok, llama /
 * Mixtral, qwen2moe, qwen3moe, olmoe, granitemoe), used to debug and check the WebGPU engine and, in
 * turn, checked against llama.cpp (test/conformance/reference-vs-llama.test.ts).
 *
 * Weights are read through the GGUF reader and dequantized (exact f32 values); all arithmetic is
 * float64. Where llama.cpp's CPU backend rounds visibly differently from exact arithmetic, the
 * reference can reproduce it; each emulation is a named option (ReferenceOptions, all on by default):
 *   f16Activations  round matmul inputs to f16 for F16 weights
 *   q8Activations   quantize matmul inputs to Q8_0 for Q8_0 / Q4_0 weights
 *   geluF16Table    grok's GELU through ggml's f16 lookup table
 *   ropeF32Theta    RoPE angles computed in f32 as ggml-cpu does
 * Turn them all off to get the "ideal" model.
 *
 * Intermediates can be captured per layer under llama.cpp's cb() names (`attn_norm-0`, `Qcur-0`,
 * `kqv_out-0`, `ffn_moe_weights_norm-1`, `l_out-1`, `result_norm`, `result_output`, …) through
 * ReferenceOptions.capture.
 */
import { dequantizeRow } from '../../gguf/quantize.js';
import { ggmlTypeName } from '../../gguf/ggml-types.js';
import { openGguf, readTensorBytes } from '../../gguf/gguf-reader.js';
import type { GgufFile } from '../../gguf/gguf-reader.js';
import { geluExact, geluGgml, silu } from './ggml-numerics.js';
import { refConfigFromGguf } from './reference-config.js';
import type { RefConfig } from './reference-config.js';
import { addInPlace, logSoftmax, matmul, rmsNorm, ropeInPlace, scaleInPlace, softmaxInPlace } from './reference-ops.js';
import type { ActivationEmulation, RefMatrix } from './reference-ops.js';

export interface ReferenceOptions extends ActivationEmulation {
  /** GELU via ggml's f16 table (GGML_GELU_FP16) instead of the exact tanh approximation. */
  geluF16Table: boolean;
  /** RoPE angles as ggml-cpu computes them in f32 instead of exactly. */
  ropeF32Theta: boolean;
  /**
   * Called with each named intermediate: `name` is llama.cpp's cb() name with `-il` appended for
   * per-layer tensors; `value` is row-major [n_tokens, width] (width = shape[1]).
   */
  capture?: (name: string, value: Float64Array, shape: [number, number]) => void;
}

export const LLAMA_CPP_NUMERICS: Readonly<ReferenceOptions> = { f16Activations: true, q8Activations: true, geluF16Table: true, ropeF32Theta: true };
export const EXACT_NUMERICS: Readonly<ReferenceOptions> = { f16Activations: false, q8Activations: false, geluF16Table: false, ropeF32Theta: false };

interface ExpertWeights {
  gate: RefMatrix[]; // [n_expert] of [n_ff, n_embd]
  up: RefMatrix[];
  down: RefMatrix[]; // [n_expert] of [n_embd, n_ff]
}

interface LayerWeights {
  attn_norm: Float32Array;
  wq: RefMatrix;
  wk: RefMatrix;
  wv: RefMatrix;
  wo: RefMatrix;
  attn_q_norm?: Float32Array;
  attn_k_norm?: Float32Array;
  attn_out_norm?: Float32Array; // grok
  ffn_norm: Float32Array;
  ffn_gate_inp?: RefMatrix; // router [n_expert, n_embd]
  experts?: ExpertWeights;
  ffn_gate?: RefMatrix; // dense FFN
  ffn_up?: RefMatrix;
  ffn_down?: RefMatrix;
  ffn_gate_inp_shexp?: Float32Array; // qwen2moe shared-expert gate {n_embd}
  ffn_gate_shexp?: RefMatrix;
  ffn_up_shexp?: RefMatrix;
  ffn_down_shexp?: RefMatrix;
  layer_out_norm?: Float32Array; // grok
}

interface ModelWeights {
  tok_embd: RefMatrix; // [n_vocab, n_embd]
  output_norm: Float32Array;
  output: RefMatrix; // [n_vocab, n_embd] (token_embd when tied)
  layers: LayerWeights[];
}

async function readValues(f: GgufFile, name: string): Promise<{ data: Float32Array; dims: number[]; type: number }> {
  const t = f.tensorByName.get(name);
  if (!t) throw new Error(`${f.path}: missing tensor ${name}`);
  const bytes = await readTensorBytes(f, t);
  return { data: dequantizeRow(t.type, bytes, t.nElements), dims: t.dims, type: t.type };
}

async function loadWeights(f: GgufFile, cfg: RefConfig): Promise<ModelWeights> {
  const has = (n: string): boolean => f.tensorByName.has(n);
  const vec = async (n: string): Promise<Float32Array> => (await readValues(f, n)).data;
  const mat = async (n: string): Promise<RefMatrix> => {
    const { data, dims, type } = await readValues(f, n);
    if (dims.length !== 2) throw new Error(`${n}: expected 2 dims, got [${dims.join(', ')}]`);
    return { name: n, type, cols: dims[0]!, rows: dims[1]!, data };
  };
  const experts = async (n: string): Promise<RefMatrix[]> => {
    const { data, dims, type } = await readValues(f, n);
    const [cols, rows, nExp] = dims as [number, number, number];
    return Array.from({ length: nExp }, (_, e) => ({ name: `${n}[${e}]`, type, cols, rows, data: data.subarray(e * rows * cols, (e + 1) * rows * cols) }));
  };
  const opt = async <T>(n: string, load: (n: string) => Promise<T>): Promise<T | undefined> => (has(n) ? load(n) : undefined);

  const tok_embd = await mat('token_embd.weight');
  const layers: LayerWeights[] = [];
  for (let il = 0; il < cfg.n_layer; il++) {
    const b = (n: string): string => `blk.${il}.${n}.weight`;
    const moe = cfg.n_expert > 0;
    layers.push({
      attn_norm: await vec(b('attn_norm')),
      wq: await mat(b('attn_q')),
      wk: await mat(b('attn_k')),
      wv: await mat(b('attn_v')),
      wo: await mat(b('attn_output')),
      attn_q_norm: await opt(b('attn_q_norm'), vec),
      attn_k_norm: await opt(b('attn_k_norm'), vec),
      attn_out_norm: await opt(b('attn_output_norm'), vec),
      ffn_norm: await vec(b('ffn_norm')),
      ffn_gate_inp: moe ? await mat(b('ffn_gate_inp')) : undefined,
      experts: moe ? { gate: await experts(b('ffn_gate_exps')), up: await experts(b('ffn_up_exps')), down: await experts(b('ffn_down_exps')) } : undefined,
      ffn_gate: moe ? undefined : await mat(b('ffn_gate')),
      ffn_up: moe ? undefined : await mat(b('ffn_up')),
      ffn_down: moe ? undefined : await mat(b('ffn_down')),
      ffn_gate_inp_shexp: await opt(b('ffn_gate_inp_shexp'), vec),
      ffn_gate_shexp: await opt(b('ffn_gate_shexp'), mat),
      ffn_up_shexp: await opt(b('ffn_up_shexp'), mat),
      ffn_down_shexp: await opt(b('ffn_down_shexp'), mat),
      layer_out_norm: (await opt(b('layer_output_norm'), vec)) ?? (await opt(b('post_ffw_norm'), vec)),
    });
  }
  return {
    tok_embd,
    output_norm: await vec('output_norm.weight'),
    output: has('output.weight') ? await mat('output.weight') : tok_embd,
    layers,
  };
}

/** A loaded model with a KV cache: feed prompt batches and single tokens with `eval`. */
export class ReferenceModel {
  private kCache: Float64Array[][] = []; // [il][pos] → [n_head_kv·head_dim_k] (after RoPE)
  private vCache: Float64Array[][] = []; // [il][pos] → [n_head_kv·head_dim_v]

  private constructor(
    readonly cfg: RefConfig,
    private readonly w: ModelWeights,
    readonly opts: ReferenceOptions,
  ) {
    this.reset();
  }

  static async load(modelPath: string, opts: Partial<ReferenceOptions> = {}): Promise<ReferenceModel> {
    const f = await openGguf(modelPath);
    try {
      const cfg = refConfigFromGguf(f);
      return new ReferenceModel(cfg, await loadWeights(f, cfg), { ...LLAMA_CPP_NUMERICS, ...opts });
    } finally {
      await f.close();
    }
  }

  /** Tokens evaluated so far (the next token's position). */
  get nPast(): number {
    return this.kCache[0]?.length ?? 0;
  }

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
      if (lw.attn_out_norm) {
        attn = rmsNorm(attn, E, lw.attn_out_norm, cfg.f_norm_rms_eps);
        this.cap(`attn_out_norm-${il}`, attn, n);
      }
      if (cfg.f_residual_scale !== 1) scaleInPlace(attn, cfg.f_residual_scale);
      const ffnInp = addInPlace(attn, inpSA);
      this.cap(`ffn_inp-${il}`, ffnInp, n);

      const fn = rmsNorm(ffnInp, E, lw.ffn_norm, cfg.f_norm_rms_eps);
      this.cap(`ffn_norm-${il}`, fn, n);
      let ffn = cfg.n_expert > 0 ? this.moe(lw, il, fn, n) : this.denseFfn(lw, il, fn, n);
      if (lw.layer_out_norm) {
        ffn = rmsNorm(ffn, E, lw.layer_out_norm, cfg.f_norm_rms_eps);
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
    let q = matmul(lw.wq, xn, n, opts); // [n, H·dk]
    let k = matmul(lw.wk, xn, n, opts); // [n, Hkv·dk]
    const v = matmul(lw.wv, xn, n, opts); // [n, Hkv·dv]
    if (cfg.qk_norm !== 'none') {
      const width = (full: number): number => (cfg.qk_norm === 'per-head' ? dk : full);
      q = rmsNorm(q, width(H * dk), lw.attn_q_norm!, cfg.f_norm_rms_eps);
      k = rmsNorm(k, width(Hkv * dk), lw.attn_k_norm!, cfg.f_norm_rms_eps);
      this.cap(`Qcur_normed-${il}`, q, n);
      this.cap(`Kcur_normed-${il}`, k, n);
    }
    ropeInPlace(q, n, H, dk, cfg.n_rot, pos, cfg.rope_type, cfg.rope_freq_base, opts.ropeF32Theta);
    ropeInPlace(k, n, Hkv, dk, cfg.n_rot, pos, cfg.rope_type, cfg.rope_freq_base, opts.ropeF32Theta);
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
    const cap = cfg.f_attn_logit_softcapping;
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
          d *= cfg.f_kq_scale;
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
    const o = matmul(lw.wo, out, n, opts);
    this.cap(`attn_out-${il}`, o, n);
    return o;
  }

  /** act(gate·x) ⊙ (up·x) → down: the GLU FFN of one expert or of the dense/shared FFN. */
  private glu(gate: RefMatrix, up: RefMatrix, down: RefMatrix, x: Float64Array, n: number): Float64Array {
    const g = matmul(gate, x, n, this.opts);
    const u = matmul(up, x, n, this.opts);
    const act = this.cfg.ffn_act === 'gelu' ? (this.opts.geluF16Table ? geluGgml : geluExact) : silu;
    for (let i = 0; i < g.length; i++) g[i] = act(g[i]!) * u[i]!;
    return matmul(down, g, n, this.opts);
  }

  private denseFfn(lw: LayerWeights, il: number, x: Float64Array, n: number): Float64Array {
    const y = this.glu(lw.ffn_gate!, lw.ffn_up!, lw.ffn_down!, x, n);
    this.cap(`ffn_out-${il}`, y, n);
    return y;
  }

  /**
   * The MoE FFN, routing order as llm_graph_context::build_moe_ffn: router logits → softmax → top-k
   * (by probability, ties to the lower index) → weights = selected probabilities → divided by their
   * sum when expert_weights_norm → Σ_k weight_k · expert_k(x); plus the shared expert if any.
   */
  private moe(lw: LayerWeights, il: number, x: Float64Array, n: number): Float64Array {
    const { cfg } = this;
    const E = cfg.n_embd;
    const X = cfg.n_expert;
    const K = cfg.n_expert_used;
    const logits = matmul(lw.ffn_gate_inp!, x, n, this.opts); // [n, n_expert]
    this.cap(`ffn_moe_logits-${il}`, logits, n);
    const probs = new Float64Array(n * X);
    const topk = new Float64Array(n * K);
    const weights = new Float64Array(n * K);
    const weightsNorm = new Float64Array(n * K);
    const out = new Float64Array(n * E);
    for (let t = 0; t < n; t++) {
      const p = softmaxInPlace(logits.slice(t * X, (t + 1) * X));
      probs.set(p, t * X);
      const order = Array.from({ length: X }, (_, e) => e).sort((a, b) => p[b]! - p[a]! || a - b);
      const sel = order.slice(0, K);
      let sum = 0;
      for (let j = 0; j < K; j++) sum += p[sel[j]!]!;
      const denom = cfg.expert_weights_norm ? Math.max(sum, 6.103515625e-5) : 1;
      const xt = x.subarray(t * E, (t + 1) * E);
      for (let j = 0; j < K; j++) {
        const e = sel[j]!;
        topk[t * K + j] = e;
        weights[t * K + j] = p[e]!;
        const wgt = (weightsNorm[t * K + j] = p[e]! / denom);
        const y = this.glu(lw.experts!.gate[e]!, lw.experts!.up[e]!, lw.experts!.down[e]!, xt, 1);
        for (let i = 0; i < E; i++) out[t * E + i]! += wgt * y[i]!;
      }
    }
    this.cap(`ffn_moe_probs-${il}`, probs, n);
    this.cap(`ffn_moe_topk-${il}`, topk, n);
    this.cap(`ffn_moe_weights-${il}`, weights, n);
    this.cap(`ffn_moe_weights_norm-${il}`, weightsNorm, n);
    this.cap(`ffn_moe_out-${il}`, out, n);
    if (!lw.ffn_up_shexp) return out;

    const sh = this.glu(lw.ffn_gate_shexp!, lw.ffn_up_shexp, lw.ffn_down_shexp!, x, n);
    this.cap(`ffn_shexp-${il}`, sh, n);
    if (cfg.shexp_gated) {
      const g = lw.ffn_gate_inp_shexp!;
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

  /** Greedy continuation of everything evaluated so far, starting from the distribution `last`. */
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

  describe(): string {
    const c = this.cfg;
    return `${c.arch} n_embd=${c.n_embd} n_layer=${c.n_layer} heads=${c.n_head}/${c.n_head_kv}×${c.n_embd_head_k} experts=${c.n_expert}/${c.n_expert_used} output=${ggmlTypeName(this.w.output.type)}`;
  }
}

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

/** Per-position log-softmax of the prompt and the greedy continuation of `nGreedy` tokens. */
export async function referenceRun(modelPath: string, tokens: number[], nGreedy: number, opts: Partial<ReferenceOptions> = {}): Promise<{ logprobs: Float64Array[]; greedy: number[] }> {
  const m = await ReferenceModel.load(modelPath, opts);
  const logprobs = m.eval(tokens);
  return { logprobs, greedy: nGreedy > 0 ? m.greedyFrom(logprobs[logprobs.length - 1]!, nGreedy) : [] };
}

export async function referenceGreedy(modelPath: string, tokens: number[], nGreedy: number, opts: Partial<ReferenceOptions> = {}): Promise<number[]> {
  return (await referenceRun(modelPath, tokens, nGreedy, opts)).greedy;
}
