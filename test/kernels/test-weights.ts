/**
 * Random weight matrices for the kernel tests, in every format with a WebGPU kernel: quantised with ggml's
 * quantizers (formats with one: F32, F16, BF16, Q8_0, Q4_0) or random valid blocks (the model generator's
 * RANDOM_BLOCKS: negative and signed scales, f16 subnormal super-scales, E8M0 exponents), or "wild" blocks
 * (every quant and scale bit random, only the f16 / E8M0 scale fields kept finite and moderate);
 * dequantised back for the references (exact), and repacked into GPU row shards the way the weight store
 * does (gpu/weight-layout.ts), at shard boundaries the test chooses.
 */
import { requireFormat } from '../../daemon/formats/table.js';
import { writeF16 } from '../../daemon/formats/block-io.js';
import { KNOWN_FORMATS } from '../../daemon/formats/table.js';
import { GgmlType, ggmlByteSize } from '../../daemon/gguf/ggml-types.js';
import { dequantizeRow, quantizeRow } from '../../daemon/gguf/quantize.js';
import { blockMinsOf } from '../../daemon/gpu/cpu-reference/reference-ops.js';
import { repackRows, rowLayout, shardBytes } from '../../daemon/gpu/weight-layout.js';
import { Rng } from '../../tools/modelgen/prng.js';
import { RANDOM_BLOCKS, randomBlocks } from '../../tools/modelgen/random-blocks.js';
import { randn } from './kernel-test-utils.js';

export interface TestMatrix {
  type: GgmlType;
  rows: number;
  cols: number;
  /** As stored in GGUF: rows of ggml blocks. */
  ggml: Uint8Array;
  /** The exact values those blocks stand for. [rows, cols] */
  values: Float32Array;
  /** Q4_1 / Q5_1: the block mins [rows, cols / 32]. */
  blockMins?: Float32Array;
}

export interface TestShard {
  rowStart: number;
  rows: number;
  /** GPU bytes: the format's planes, each at its offset. */
  bytes: Uint8Array;
  planeOffsets: number[];
}

/** Every weight type with a WebGPU kernel. */
export const WEIGHT_TYPES: readonly GgmlType[] = KNOWN_FORMATS.filter((f) => f.wgsl).map((f) => f.type);

/** Where each format keeps its f16 scale fields (byte offsets in a block), for wild blocks. */
const F16_FIELDS: Partial<Record<GgmlType, number[]>> = {
  [GgmlType.Q8_0]: [0],
  [GgmlType.Q4_0]: [0],
  [GgmlType.Q4_1]: [0, 2],
  [GgmlType.Q5_0]: [0],
  [GgmlType.Q5_1]: [0, 2],
  [GgmlType.Q2_K]: [80, 82],
  [GgmlType.Q3_K]: [108],
  [GgmlType.Q4_K]: [0, 2],
  [GgmlType.Q5_K]: [0, 2],
  [GgmlType.Q6_K]: [208],
  [GgmlType.IQ4_NL]: [0],
  [GgmlType.IQ4_XS]: [0],
};

export type BlockStyle = 'typical' | 'wild';

function matrixFrom(type: GgmlType, rows: number, cols: number, ggml: Uint8Array): TestMatrix {
  return { type, rows, cols, ggml, values: dequantizeRow(type, ggml, rows * cols), blockMins: blockMinsOf(type, ggml, rows * cols) };
}

/**
 * A [rows, cols] matrix of `type`. 'typical': ggml's quantizer on Gaussian values where the format has no
 * random block generator, else that generator (dequantised rms ≈ std). 'wild': random bytes with finite
 * scale fields of random sign and magnitude 2^-22 .. 2^-6 (f16 subnormals included), MXFP4 exponents
 * 100..140; float formats fall back to 'typical'.
 */
export function randomMatrix(type: GgmlType, rows: number, cols: number, rnd: () => number, std = 1, style: BlockStyle = 'typical'): TestMatrix {
  const f = requireFormat(type);
  const n = rows * cols;
  const rng = new Rng(Math.floor(rnd() * 2 ** 32));
  if (style === 'wild' && (F16_FIELDS[type] || type === GgmlType.MXFP4)) {
    const ggml = new Uint8Array((n / f.blockSize) * f.typeSize);
    for (let i = 0; i < ggml.length; i++) ggml[i] = rng.nextU32() & 0xff;
    for (let at = 0; at < ggml.length; at += f.typeSize) {
      if (type === GgmlType.MXFP4) ggml[at] = 100 + rng.int(41);
      for (const o of F16_FIELDS[type] ?? []) writeF16(ggml, at + o, (rng.nextU32() & 1 ? -1 : 1) * 2 ** (-22 + 16 * rng.uniform()));
    }
    return matrixFrom(type, rows, cols, ggml);
  }
  if (RANDOM_BLOCKS[type]) return matrixFrom(type, rows, cols, randomBlocks(type, n, std, rng));
  return matrixFrom(type, rows, cols, quantizeRow(type, randn(n, rnd, std)));
}

/** Splits m at the given row boundaries (default: one shard) and repacks each shard for the GPU. */
export function shardMatrix(m: TestMatrix, boundaries: number[] = []): TestShard[] {
  const cuts = [0, ...boundaries.filter((b) => b > 0 && b < m.rows), m.rows];
  const layout = rowLayout(m.type, m.cols);
  const rowBytes = ggmlByteSize(m.type, m.cols);
  const shards: TestShard[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) {
    const rowStart = cuts[i]!;
    const rows = cuts[i + 1]! - rowStart;
    const { bytes, planeOffsets } = shardBytes(layout, rows);
    const out = new Uint8Array(bytes);
    repackRows(
      layout,
      rows,
      m.ggml.subarray(rowStart * rowBytes, (rowStart + rows) * rowBytes),
      layout.planes.map((p, j) => out.subarray(planeOffsets[j]!, planeOffsets[j]! + rows * p.rowBytes)),
    );
    shards.push({ rowStart, rows, bytes: out, planeOffsets });
  }
  return shards;
}

/** Rows [from, from + rows) of a matrix's block mins, when it has them. */
export function minsOf(m: TestMatrix, from: number, rows: number): Float32Array | undefined {
  if (!m.blockMins) return undefined;
  const nb = m.cols / 32;
  return m.blockMins.subarray(from * nb, (from + rows) * nb);
}
