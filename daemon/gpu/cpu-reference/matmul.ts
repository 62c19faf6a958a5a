/**
 * CPU reference of shaders/matmul_{f32,f16,q8_0,q4_0}.wgsl: ggml_mul_mat of one row shard of a weight
 * matrix with the activation rows a mode selects, written into a column range of y.
 *
 *   y[out_row(i), y_col_offset + r] = Σ_c W[r, c] · a[in_row(i), c]     r < rows, i < count
 *
 *   mode 'tokens': rows i < n_tokens, in_row = out_row = i
 *   mode 'logits': rows i < n_logits, in_row = logits_start + i, out_row = i
 *   mode 'gather': an expert's slot list, i < count, slot = rowmap[list_offset + i],
 *                  in_row = slot / gather_div (integer division), out_row = slot
 *
 * `a` is the activation as ggml's matmul sees it for the weight type (its vec_dot_type): F32 as is, F16
 * rounded to f16, Q8_0 / Q4_0 quantized to Q8_0 blocks (the dot product of two quantized blocks is then
 * exactly d_w · d_x · Σ q_w · q_x). W is the dequantized weight (exact). Sums in float64; alongside y the
 * reference returns Σ_c |W[r, c] · a[., c]| per output, the scale a float32 kernel's rounding error is
 * proportional to.
 */
import { GgmlType } from '../../gguf/ggml-types.js';
import { f16BitsToF32, f32ToF16Bits } from '../../gguf/quantize.js';
import { dequantizeQ8Rows, quantizeQ8_0Ref, type Q8Rows } from './quantize-q8-0.js';

export type MatmulModeRef =
  | { kind: 'tokens'; n_tokens: number }
  | { kind: 'logits'; logits_start: number; n_logits: number }
  | { kind: 'gather'; rowmap: ArrayLike<number>; list_offset: number; count: number; gather_div: number };

export interface MatmulRefArgs {
  type: GgmlType;
  /** The shard's dequantized weights [rows, cols]. */
  weights: ArrayLike<number>;
  rows: number;
  cols: number;
  /** Activations [x_rows, x_stride] (x_stride = cols for the quantized types). */
  x: Float32Array;
  x_stride: number;
  /** Q8_0 / Q4_0: the quantized activations the kernel reads (default: x quantized by quantize_row_q8_0_ref). */
  xq?: Q8Rows;
  /** y before the matmul [y_rows, y_stride]: outputs the shard does not write keep these values. */
  y: ArrayLike<number>;
  y_stride: number;
  y_col_offset: number;
  mode: MatmulModeRef;
}

export interface MatmulRefResult {
  y: Float64Array;
  /** Σ |W · a| per element of y (0 where y was not written). */
  magnitude: Float64Array;
}

/** The activation rows as ggml's matmul sees them for a weight of type `type`. [x_rows, x_stride] */
export function matmulActivationsRef(type: GgmlType, x: Float32Array, x_stride: number, xq?: Q8Rows): Float64Array {
  switch (type) {
    case GgmlType.F32:
      return Float64Array.from(x);
    case GgmlType.F16:
      return Float64Array.from(x, (v) => f16BitsToF32(f32ToF16Bits(v)));
    case GgmlType.Q8_0:
    case GgmlType.Q4_0: {
      const q = xq ?? quantizeQ8_0Ref(x, x_stride, x.length / x_stride);
      return dequantizeQ8Rows(q, x_stride);
    }
    default:
      throw new Error(`matmulRef: no matmul kernel for ggml type ${type}`);
  }
}

export function matmulRef(a: MatmulRefArgs): MatmulRefResult {
  const act = matmulActivationsRef(a.type, a.x, a.x_stride, a.xq);
  const y = Float64Array.from(a.y as ArrayLike<number>);
  const magnitude = new Float64Array(y.length);
  const m = a.mode;
  const count = m.kind === 'tokens' ? m.n_tokens : m.kind === 'logits' ? m.n_logits : m.count;
  for (let i = 0; i < count; i++) {
    let inRow: number;
    let outRow: number;
    if (m.kind === 'tokens') {
      inRow = outRow = i;
    } else if (m.kind === 'logits') {
      inRow = m.logits_start + i;
      outRow = i;
    } else {
      const slot = m.rowmap[m.list_offset + i]!;
      inRow = Math.floor(slot / m.gather_div);
      outRow = slot;
    }
    const xb = inRow * a.x_stride;
    for (let r = 0; r < a.rows; r++) {
      let s = 0;
      let mag = 0;
      const wb = r * a.cols;
      for (let c = 0; c < a.cols; c++) {
        const p = a.weights[wb + c]! * act[xb + c]!;
        s += p;
        mag += Math.abs(p);
      }
      const o = outRow * a.y_stride + a.y_col_offset + r;
      y[o] = s;
      magnitude[o] = mag;
    }
  }
  return { y, magnitude };
}
