/**
 * Float64 building blocks of the CPU reference forward pass. Activations are row-major
 * Float64Array [n_tokens, width]; weights are dequantized to their exact f32 values (formats/*.ts) and
 * kept as Float32Array, with ggml's layout: a matrix of ne = [cols, rows] stores row r at
 * data[r*cols .. r*cols + cols), and y[r] = Σ_c W[r, c] · x[c].
 */
import { requireFormat } from '../../formats/table.js';
import type { GgmlType } from '../../gguf/ggml-types.js';
import { activationAsGgmlSees, ropeAngles } from './ggml-numerics.js';

/** A weight matrix: `rows` outputs of `cols` inputs (ggml ne = [cols, rows]). */
export interface RefMatrix {
  name: string;
  type: GgmlType; // the type it was stored as (decides the activation emulation)
  cols: number;
  rows: number;
  data: Float32Array; // [rows, cols] dequantized
  /** Formats with an additive block min (Q4_1, Q5_1): m per block, [rows, cols / 32] (TensorFormat.blockMins). */
  blockMins?: Float32Array;
}

/** The per-block mins of `n` values of `type` stored in `bytes`, for formats that have them (else undefined). */
export function blockMinsOf(type: GgmlType, bytes: Uint8Array, n: number): Float32Array | undefined {
  const f = requireFormat(type);
  if (!f.blockMins) return undefined;
  const out = new Float32Array(n / f.blockSize);
  f.blockMins(bytes, out.length, out, 0);
  return out;
}

export interface ActivationEmulation {
  /** Round activations to f16 / bf16 before matmuls with F16 / BF16 weights (ggml converts src1 so). */
  f16Activations: boolean;
  /**
   * Quantize activations to the weight's Q8 activation format (Q8_0, Q8_1 or Q8_K: TensorFormat.activation)
   * before matmuls with quantized weights, as ggml-cpu does.
   */
  q8Activations: boolean;
}

/** An activation row as ggml's matmul sees it: values, and for Q8_1 the stored block sums. */
export interface MatmulInput {
  values: Float64Array;
  blockSums?: Float64Array;
}

/** The activation row as ggml's matmul sees it for a weight of type `t` (driven by the format table). */
export function matmulInput(x: Float64Array, t: GgmlType, emu: ActivationEmulation): MatmulInput {
  const act = requireFormat(t).activation;
  const on = act === 'f16' || act === 'bf16' ? emu.f16Activations : act === 'f32' ? false : emu.q8Activations;
  return on ? activationAsGgmlSees(act, x) : { values: x };
}

/**
 * y = W·x for each of the n rows of x ([n, cols] → [n, rows]). With Q8_1 activations (Q4_1 / Q5_1 weights)
 * ggml computes each block as d_w·d_x·Σ q_w·q_x + m_w·s_x: the dequantised product W·x' plus, per block,
 * m_w · (s_x − Σ x'), which is added here.
 */
export function matmul(w: RefMatrix, x: Float64Array, n: number, emu: ActivationEmulation): Float64Array {
  const { cols, rows, data } = w;
  if (x.length !== n * cols) throw new Error(`matmul ${w.name}: input has ${x.length} values, expected ${n}×${cols}`);
  const y = new Float64Array(n * rows);
  for (let t = 0; t < n; t++) {
    const { values: xt, blockSums } = matmulInput(x.subarray(t * cols, (t + 1) * cols), w.type, emu);
    const sumGap = blockSums && w.blockMins ? blockSumGap(xt, blockSums) : undefined;
    const nb = sumGap?.length ?? 0;
    for (let r = 0; r < rows; r++) {
      let s = 0;
      const o = r * cols;
      for (let c = 0; c < cols; c++) s += data[o + c]! * xt[c]!;
      if (sumGap) for (let b = 0; b < nb; b++) s += w.blockMins![r * nb + b]! * sumGap[b]!;
      y[t * rows + r] = s;
    }
  }
  return y;
}

/** s_b − Σ_{j ∈ block b} x'_j for each block of the row. */
function blockSumGap(values: Float64Array, blockSums: Float64Array): Float64Array {
  const bs = values.length / blockSums.length;
  const gap = new Float64Array(blockSums.length);
  for (let b = 0; b < gap.length; b++) {
    let sum = 0;
    for (let j = 0; j < bs; j++) sum += values[b * bs + j]!;
    gap[b] = blockSums[b]! - sum;
  }
  return gap;
}

/** RMS norm over rows of `width` (groups of `width` inside each row), times `weight` when given. */
export function rmsNorm(x: Float64Array, width: number, weight: Float32Array | null, eps: number): Float64Array {
  const y = new Float64Array(x.length);
  for (let o = 0; o < x.length; o += width) {
    let ss = 0;
    for (let i = 0; i < width; i++) ss += x[o + i]! * x[o + i]!;
    const scale = 1 / Math.sqrt(ss / width + eps);
    for (let i = 0; i < width; i++) y[o + i] = x[o + i]! * scale * (weight ? weight[i]! : 1);
  }
  return y;
}

export interface RopeParams {
  n_rot: number;
  /** 'norm' rotates adjacent pairs (2i, 2i+1); 'neox' rotates (i, i + n_rot/2). */
  mode: 'norm' | 'neox';
  freq_base: number;
  /** θ multiplied by it (1 / rope scaling factor). */
  freq_scale: number;
  /** cos and sin multiplied by it. */
  attn_factor: number;
  /** rope_freqs: θ_i divided by factors[i]. */
  factors: Float32Array | null;
  /** YaRN (ext_factor ≠ 0): ramp between interpolated and extrapolated angles, with its mscale. */
  yarn?: { ext_factor: number; beta_fast: number; beta_slow: number; n_ctx_orig: number };
  /** Angles computed in f32 as ggml-cpu does (see ggml-numerics.ts). */
  f32Theta: boolean;
}

/**
 * Rotates each head of x ([n, n_heads·head_dim]) in place at positions pos[t], as ggml_rope_ext:
 * θ_i = freq_scale · pos · base^(-2i/n_rot) / factor_i; with YaRN, θ_i mixes that with the unscaled
 * angle by the ramp over the correction dims, and cos/sin gain 1 + 0.1·ln(1/freq_scale) (float64
 * throughout, except the f32 angles of f32Theta). Dimensions past n_rot are left alone.
 */
export function ropeInPlace(x: Float64Array, n: number, nHeads: number, headDim: number, pos: number[], r: RopeParams): void {
  const ext = r.yarn?.ext_factor ?? 0;
  let low = 0;
  let high = 0;
  let mscale = r.attn_factor;
  if (ext !== 0) {
    const y = r.yarn!;
    const dim = (beta: number) => (r.n_rot * Math.log(y.n_ctx_orig / (beta * 2 * Math.PI))) / (2 * Math.log(r.freq_base));
    low = Math.max(0, Math.floor(dim(y.beta_fast)));
    high = Math.min(r.n_rot - 1, Math.ceil(dim(y.beta_slow)));
    mscale *= 1 + 0.1 * Math.log(1 / r.freq_scale);
  }
  for (let t = 0; t < n; t++) {
    const theta = ropeAngles(pos[t]!, r.n_rot, r.freq_base, r.f32Theta);
    for (let h = 0; h < nHeads; h++) {
      const o = (t * nHeads + h) * headDim;
      for (let i = 0; i < r.n_rot / 2; i++) {
        const extrap = theta[i]! / (r.factors ? r.factors[i]! : 1);
        let th = r.freq_scale * extrap;
        if (ext !== 0) {
          const mix = (1 - Math.min(1, Math.max(0, (i - low) / Math.max(0.001, high - low)))) * ext;
          th = th * (1 - mix) + extrap * mix;
        }
        const c = Math.cos(th) * mscale;
        const s = Math.sin(th) * mscale;
        const i0 = r.mode === 'norm' ? o + 2 * i : o + i;
        const i1 = r.mode === 'norm' ? i0 + 1 : i0 + r.n_rot / 2;
        const x0 = x[i0]!;
        const x1 = x[i1]!;
        x[i0] = x0 * c - x1 * s;
        x[i1] = x0 * s + x1 * c;
      }
    }
  }
}

/** Adds a bias vector to every row of x ([n, bias.length]). */
export function addBiasInPlace(x: Float64Array, bias: Float32Array | undefined): Float64Array {
  if (!bias) return x;
  for (let i = 0; i < x.length; i++) x[i]! += bias[i % bias.length]!;
  return x;
}

export function softmaxInPlace(a: Float64Array): Float64Array {
  let m = -Infinity;
  for (const v of a) m = Math.max(m, v);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] = Math.exp(a[i]! - m);
  for (let i = 0; i < a.length; i++) a[i]! /= s;
  return a;
}

export function logSoftmax(a: Float64Array): Float64Array {
  let m = -Infinity;
  for (const v of a) m = Math.max(m, v);
  let s = 0;
  for (const v of a) s += Math.exp(v - m);
  const lse = m + Math.log(s);
  return a.map((v) => v - lse);
}

export function addInPlace(a: Float64Array, b: Float64Array): Float64Array {
  for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
  return a;
}

export function scaleInPlace(a: Float64Array, s: number): Float64Array {
  for (let i = 0; i < a.length; i++) a[i]! *= s;
  return a;
}
