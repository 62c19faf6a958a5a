/**
 * CPU reference of shaders/quantize_q8.wgsl (Q8_0, Q8_1) and shaders/quantize_q8_k.wgsl (Q8_K): f32
 * activation rows quantised as llama.cpp's x86 CPU backend does (the byte-exact codecs of
 * daemon/formats/activation-*.ts), in the GPU layout of shaders/activations/q8.wgsl:
 *   qs    [rows, cols] int8
 *   sums  [rows, cols / 32] pairs of u32: (f32 bits of d, aux) with aux = Q8_0: Σ q (i32),
 *         Q8_1: f32 bits of the stored sum s, Q8_K: Σ q of values 0–15 | Σ q of values 16–31 << 16 (two i16),
 *         d being the 256-block's d for Q8_K.
 */
import { ACTIVATION_CODECS, activationBytes } from '../../formats/activation.js';
import type { ActivationFormat } from '../../formats/format.js';
import { readF16 } from '../../formats/block-io.js';

export type Q8Format = Extract<ActivationFormat, 'q8_0' | 'q8_1' | 'q8_K'>;

export interface Q8Rows {
  qs: Int8Array;
  sums: Uint32Array;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (v: number) => ((f32[0] = v), u32[0]!);

/** The GPU layout of `rows` rows of `cols` values of x starting at row `first`. */
export function quantizeQ8Ref(format: Q8Format, x: Float32Array, cols: number, rows: number, first = 0): Q8Rows {
  const codec = ACTIVATION_CODECS[format];
  const qs = new Int8Array(rows * cols);
  const sums = new Uint32Array((rows * cols) / 16);
  const bytes = new Uint8Array(activationBytes(format, cols));
  const dv = new DataView(bytes.buffer);
  for (let r = 0; r < rows; r++) {
    codec.quantize(x.subarray((first + r) * cols, (first + r + 1) * cols), bytes, 0);
    for (let c = 0; c < cols / 32; c++) {
      const k = (r * cols) / 32 + c;
      const at = 2 * k;
      if (format === 'q8_K') {
        const b = 292 * Math.floor(c / 8);
        const j = 32 * (c % 8);
        for (let i = 0; i < 32; i++) qs[32 * k + i] = dv.getInt8(b + 4 + j + i);
        sums[at] = dv.getUint32(b, true);
        sums[at + 1] = (dv.getInt16(b + 260 + 2 * (j / 16), true) & 0xffff) | (dv.getInt16(b + 260 + 2 * (j / 16 + 1), true) << 16);
      } else {
        const bs = format === 'q8_0' ? 34 : 36;
        const q = format === 'q8_0' ? 2 : 4;
        const b = bs * c;
        let sum = 0;
        for (let i = 0; i < 32; i++) sum += qs[32 * k + i] = dv.getInt8(b + q + i);
        sums[at] = bitsOf(readF16(bytes, b));
        sums[at + 1] = format === 'q8_0' ? sum >>> 0 : bitsOf(readF16(bytes, b + 2));
      }
    }
  }
  return { qs, sums };
}

/**
 * What the matmul's dot products see of a q8 row in this layout: values[i] = q_i · d, and for Q8_1 the
 * stored sums s per block of 32.
 */
export function decodeQ8Rows(format: Q8Format, q: Q8Rows, cols: number, row: number): { values: Float64Array; blockSums?: Float64Array } {
  const values = new Float64Array(cols);
  const blockSums = format === 'q8_1' ? new Float64Array(cols / 32) : undefined;
  for (let c = 0; c < cols / 32; c++) {
    const k = (row * cols) / 32 + c;
    u32[0] = q.sums[2 * k]!;
    const d = f32[0]!;
    for (let i = 0; i < 32; i++) values[32 * c + i] = q.qs[32 * k + i]! * d;
    if (blockSums) {
      u32[0] = q.sums[2 * k + 1]!;
      blockSums[c] = f32[0]!;
    }
  }
  return { values, blockSums };
}
