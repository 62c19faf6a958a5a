/**
 * CPU reference of shaders/quantize_q8_0.wgsl: activations quantized to Q8_0 blocks of 32 before a Q8_0 /
 * Q4_0 matmul (ggml converts src1 to the weight's vec_dot_type, Q8_0).
 *
 * Two ggml variants exist and differ only in rare last-place cases:
 *  - 'ref': quantize_row_q8_0_ref (ggml-quants.c; gguf/quantize.ts quantizeRow, bit-exact):
 *    d = amax / 127, id = 1 / d, q = roundf(x · id) (halves away from zero).
 *  - 'x86': ggml-cpu's AVX/AVX2 quantize_row_q8_0 (arch/x86/quants.c), what llama.cpp runs on x86:
 *    d = amax / 127, id = 127 / amax, q = _mm256_round_ps(x · id, nearest) (halves to even).
 * Both store d as f16. Outputs use the kernel's layout: qs [rows, cols] int8, d [rows, cols / 32] as f32.
 */
import { GgmlType } from '../../gguf/ggml-types.js';
import { f16BitsToF32, f32ToF16Bits, quantizeRow } from '../../gguf/quantize.js';

export type Q8Variant = 'ref' | 'x86';

export interface Q8Rows {
  qs: Int8Array; // [rows, cols]
  d: Float32Array; // [rows, cols / 32]
}

const f = Math.fround;

function roundHalfEven(v: number): number {
  const r = Math.round(v); // halves up
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Quantizes `rows` rows of `cols` values of x starting at row `first`. */
export function quantizeQ8_0Ref(x: Float32Array, cols: number, rows: number, first = 0, variant: Q8Variant = 'ref'): Q8Rows {
  if (cols % 32) throw new Error(`quantizeQ8_0Ref: ${cols} columns is not a whole number of blocks`);
  const nb = cols / 32;
  const qs = new Int8Array(rows * cols);
  const d = new Float32Array(rows * nb);
  for (let r = 0; r < rows; r++) {
    const src = x.subarray((first + r) * cols, (first + r + 1) * cols);
    if (variant === 'ref') {
      const bytes = quantizeRow(GgmlType.Q8_0, src);
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      for (let b = 0; b < nb; b++) {
        d[r * nb + b] = f16BitsToF32(dv.getUint16(b * 34, true));
        for (let j = 0; j < 32; j++) qs[r * cols + b * 32 + j] = dv.getInt8(b * 34 + 2 + j);
      }
    } else {
      for (let b = 0; b < nb; b++) {
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(src[b * 32 + j]!));
        d[r * nb + b] = f16BitsToF32(f32ToF16Bits(f(amax / 127)));
        const id = amax !== 0 ? f(127 / amax) : 0;
        for (let j = 0; j < 32; j++) qs[r * cols + b * 32 + j] = roundHalfEven(f(src[b * 32 + j]! * id));
      }
    }
  }
  return { qs, d };
}

/** The values a quantized activation stands for: q · d. [rows, cols] */
export function dequantizeQ8Rows(q: Q8Rows, cols: number): Float64Array {
  const out = new Float64Array(q.qs.length);
  for (let i = 0; i < out.length; i++) {
    const r = Math.floor(i / cols);
    out[i] = q.qs[i]! * q.d[r * (cols / 32) + Math.floor((i % cols) / 32)]!;
  }
  return out;
}
