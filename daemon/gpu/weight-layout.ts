/**
 * How weight matrices are laid out on the GPU, and how they are split into row shards.
 *
 * Every matrix [rows, cols] (ggml ne0 = cols) keeps its ggml type — nothing is expanded to f32 — but
 * quantised blocks are repacked so that kernels read 4-byte aligned words:
 *   F32  rows * cols f32
 *   F16  rows * cols f16, two per u32
 *   Q8_0 quants [rows, cols/32, 32] int8, then the block scales [rows, cols/32] f16 (two per u32)
 *   Q4_0 nibbles [rows, cols/32, 16 bytes] in ggml's order, then the block scales [rows, cols/32] f16
 * A matrix larger than the device's binding limit is split into row shards, each its own buffer.
 */
import { GgmlType, ggmlTypeName } from '../gguf/ggml-types.js';

export interface RowLayout {
  /** Bytes of one row in the GGUF file. */
  fileRowBytes: number;
  /** Bytes of one row's quants (or values) on the GPU. */
  dataRowBytes: number;
  /** Bytes of one row's f16 block scales on the GPU (0 for F32/F16). */
  scaleRowBytes: number;
}

export function rowLayout(type: GgmlType, cols: number): RowLayout {
  switch (type) {
    case GgmlType.F32:
      if (cols % 4) throw new Error(`F32 matrices need a row length divisible by 4, got ${cols}`);
      return { fileRowBytes: cols * 4, dataRowBytes: cols * 4, scaleRowBytes: 0 };
    case GgmlType.F16:
      if (cols % 8) throw new Error(`F16 matrices need a row length divisible by 8, got ${cols}`);
      return { fileRowBytes: cols * 2, dataRowBytes: cols * 2, scaleRowBytes: 0 };
    case GgmlType.Q8_0:
      if (cols % 32) throw new Error(`Q8_0 needs a row length divisible by 32, got ${cols}`);
      return { fileRowBytes: (cols / 32) * 34, dataRowBytes: cols, scaleRowBytes: (cols / 32) * 2 };
    case GgmlType.Q4_0:
      if (cols % 32) throw new Error(`Q4_0 needs a row length divisible by 32, got ${cols}`);
      return { fileRowBytes: (cols / 32) * 18, dataRowBytes: cols / 2, scaleRowBytes: (cols / 32) * 2 };
    default:
      throw new Error(`tensor type ${ggmlTypeName(type)} is not supported (supported: F32, F16, Q8_0, Q4_0)`);
  }
}

const align4 = (n: number) => Math.ceil(n / 4) * 4;

/** GPU bytes of a shard of `rows` rows: the data region, then the scales region padded to 4 bytes. */
export function shardBytes(layout: RowLayout, rows: number): { bytes: number; scalesOffset: number } {
  const scalesOffset = align4(layout.dataRowBytes * rows);
  return { bytes: scalesOffset + align4(layout.scaleRowBytes * rows), scalesOffset };
}

export interface ShardPlan {
  rowStart: number;
  rows: number;
  bytes: number;
  scalesOffset: number;
}

/** Splits `rows` into shards that each fit in one binding of at most `maxBindingBytes`. */
export function planShards(type: GgmlType, rows: number, cols: number, maxBindingBytes: number): ShardPlan[] {
  const layout = rowLayout(type, cols);
  const perRow = layout.dataRowBytes + layout.scaleRowBytes;
  let maxRows = Math.floor((maxBindingBytes - 8) / perRow);
  if (maxRows >= rows) maxRows = rows;
  else maxRows -= maxRows % 4; // keep shards a multiple of the kernels' 4-row tile
  if (maxRows < 1) throw new Error(`one row of ${cols} ${ggmlTypeName(type)} values (${perRow} bytes) exceeds the binding limit of ${maxBindingBytes} bytes`);
  const shards: ShardPlan[] = [];
  for (let r = 0; r < rows; r += maxRows) {
    const n = Math.min(maxRows, rows - r);
    shards.push({ rowStart: r, rows: n, ...shardBytes(layout, n) });
  }
  return shards;
}

/**
 * Repacks `rows` whole rows of ggml blocks from `src` into the data and scales regions.
 * data: rows * dataRowBytes; scales: rows * scaleRowBytes.
 */
export function repackRows(type: GgmlType, cols: number, rows: number, src: Uint8Array, data: Uint8Array, scales: Uint8Array): void {
  const layout = rowLayout(type, cols);
  if (type === GgmlType.F32 || type === GgmlType.F16) {
    data.set(src.subarray(0, rows * layout.fileRowBytes));
    return;
  }
  const nb = cols / 32;
  const blockBytes = type === GgmlType.Q8_0 ? 34 : 18;
  const quantBytes = blockBytes - 2;
  const nBlocks = rows * nb;
  for (let i = 0; i < nBlocks; i++) {
    const s = i * blockBytes;
    scales[2 * i] = src[s];
    scales[2 * i + 1] = src[s + 1];
    data.set(src.subarray(s + 2, s + blockBytes), i * quantBytes);
  }
}
