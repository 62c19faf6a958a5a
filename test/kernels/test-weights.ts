/**
 * Random weight matrices for the kernel tests: quantized with ggml's quantizers (gguf/quantize.ts),
 * dequantized back for the references (exact), and repacked into GPU row shards the way the weight store
 * does (gpu/weight-layout.ts), at shard boundaries the test chooses.
 */
import { GgmlType, ggmlByteSize } from '../../daemon/gguf/ggml-types.js';
import { dequantizeRow, quantizeRow } from '../../daemon/gguf/quantize.js';
import { repackRows, rowLayout, shardBytes } from '../../daemon/gpu/weight-layout.js';
import { randn } from './kernel-test-utils.js';

export interface TestMatrix {
  type: GgmlType;
  rows: number;
  cols: number;
  /** As stored in GGUF: rows of ggml blocks. */
  ggml: Uint8Array;
  /** The exact values those blocks stand for. [rows, cols] */
  values: Float32Array;
}

export interface TestShard {
  rowStart: number;
  rows: number;
  /** GPU bytes: the data region, then the f16 scales at scalesOffset. */
  bytes: Uint8Array;
  scalesOffset: number;
}

export function randomMatrix(type: GgmlType, rows: number, cols: number, rnd: () => number, std = 1): TestMatrix {
  const src = randn(rows * cols, rnd, std);
  const ggml = quantizeRow(type, src);
  return { type, rows, cols, ggml, values: dequantizeRow(type, ggml, rows * cols) };
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
    const { bytes, scalesOffset } = shardBytes(layout, rows);
    const out = new Uint8Array(bytes);
    repackRows(
      m.type,
      m.cols,
      rows,
      m.ggml.subarray(rowStart * rowBytes, (rowStart + rows) * rowBytes),
      out.subarray(0, rows * layout.dataRowBytes),
      out.subarray(scalesOffset, scalesOffset + rows * layout.scaleRowBytes),
    );
    shards.push({ rowStart, rows, bytes: out, scalesOffset });
  }
  return shards;
}

export const WEIGHT_TYPES = [GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0] as const;
