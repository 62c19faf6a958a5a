/**
 * CPU reference of the composed matmul kernels (shaders/matmul.wgsl with a format's block function):
 * ggml_mul_mat of one row shard of a weight matrix with the activation rows a mode selects, written into a
 * column range of y.
 *
 *   y[out_row(i), y_col_offset + r] = Σ_c W[r, c] · a[in_row(i), c]  (+ the Q8_1 min term below)
 *
 *   mode 'tokens': rows i < n_tokens, in_row = out_row = i
 *   mode 'logits': rows i < n_logits, in_row = logits_start + i, out_row = i
 *   mode 'gather': an expert's slot list, i < count, slot = rowmap[list_offset + i],
 *                  in_row = slot / gather_div (integer division), out_row = slot
 *
 * `a` is the activation as ggml's matmul sees it for the weight's format (its `activation`, ggml's
 * vec_dot_type): f32 as is, f16 / bf16 rounded, or the q8 blocks' q · d — quantised by the byte-exact
 * codecs (daemon/formats/activation*.ts), or given already quantised in the GPU layout (xq). W is the
 * dequantised weight (exact). Formats with an additive block min (Q4_1, Q5_1) meet Q8_1 activations whose
 * stored sum s is not Σ of the block's values: ggml adds m · s, so the reference adds m · (s − Σ a) per
 * block to the dequantised product. Sums in float64; alongside y the reference returns Σ_c |W[r, c] · a[c]|
 * (plus |m · s|) per output, the scale a float32 kernel's rounding error is proportional to.
 */
import { activationAsSeen } from '../../formats/activation.js';
import { requireFormat } from '../../formats/table.js';
import type { GgmlType } from '../../gguf/ggml-types.js';
import { decodeQ8Rows, type Q8Format, type Q8Rows } from './quantize-q8.js';

export type MatmulModeRef =
  | { kind: 'tokens'; n_tokens: number }
  | { kind: 'logits'; logits_start: number; n_logits: number }
  | { kind: 'gather'; rowmap: ArrayLike<number>; list_offset: number; count: number; gather_div: number };

export interface MatmulRefArgs {
  type: GgmlType;
  /** The shard's dequantised weights [rows, cols]. */
  weights: ArrayLike<number>;
  /** Q4_1 / Q5_1: the shard's block mins [rows, cols / 32] (TensorFormat.blockMins). */
  blockMins?: ArrayLike<number>;
  rows: number;
  cols: number;
  /** Activations [x_rows, x_stride] (x_stride = cols for the q8 formats). */
  x: Float32Array;
  x_stride: number;
  /** q8 activation formats: the quantised rows the kernel reads (default: x through the codec). */
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

/** Activation row `row` as the matmul sees it for a weight of type `type`. */
export function matmulActivationRef(type: GgmlType, x: Float32Array, x_stride: number, row: number, cols: number, xq?: Q8Rows): { values: Float64Array; blockSums?: Float64Array } {
  const act = requireFormat(type).activation;
  if (xq && (act === 'q8_0' || act === 'q8_1' || act === 'q8_K')) return decodeQ8Rows(act as Q8Format, xq, cols, row);
  return activationAsSeen(act, x.subarray(row * x_stride, row * x_stride + cols));
}

export function matmulRef(a: MatmulRefArgs): MatmulRefResult {
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
    const { values: act, blockSums } = matmulActivationRef(a.type, a.x, a.x_stride, inRow, a.cols, a.xq);
    const nb = blockSums && a.blockMins ? blockSums.length : 0;
    const gap = new Float64Array(nb); // s − Σ a per block
    for (let b = 0; b < nb; b++) {
      let s = 0;
      for (let j = 0; j < 32; j++) s += act[32 * b + j]!;
      gap[b] = blockSums![b]! - s;
    }
    for (let r = 0; r < a.rows; r++) {
      let s = 0;
      let mag = 0;
      const wb = r * a.cols;
      for (let c = 0; c < a.cols; c++) {
        const p = a.weights[wb + c]! * act[c]!;
        s += p;
        mag += Math.abs(p);
      }
      for (let b = 0; b < nb; b++) {
        const mb = a.blockMins![r * nb + b]!;
        s += mb * gap[b]!;
        mag += Math.abs(mb * blockSums![b]!);
      }
      const o = outRow * a.y_stride + a.y_col_offset + r;
      y[o] = s;
      magnitude[o] = mag;
    }
  }
  return { y, magnitude };
}
