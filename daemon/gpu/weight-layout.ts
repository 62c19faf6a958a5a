/**
 * How weight matrices are laid out on the GPU, and how they are split into row shards.
 *
 * Every matrix [rows, cols] (ggml ne0 = cols) keeps its ggml type — nothing is expanded to f32. Each
 * format's blocks are cut into planes as its `gpuPlanes` rule says (daemon/formats, GpuPlane): a shard of
 * `rows` rows is one region per plane, each 16-byte aligned, holding that plane of every block of the
 * shard, row-major, `stride` bytes per block (after the format's gpuReorder, which the K-quants have).
 * F32 / F16 / BF16 are one plane, the file's bytes as they are; Q8_0 and Q4_0 are quants then f16 scales;
 * the rest is documented with each format.
 * The WGSL block functions (shaders/formats/<name>.wgsl) read plane 0 at word 0 and planes 1 and 2 at the
 * word offsets the matmul / get_rows params carry.
 * A matrix larger than the device's binding limit is split into row shards, each its own buffer.
 */
import { requireFormat, rowBytes } from '../formats/table.js';
import type { TensorFormat } from '../formats/format.js';
import { GgmlType, ggmlTypeName } from '../gguf/ggml-types.js';

/** Region starts are aligned to this many bytes (vec4<u32> loads). */
export const REGION_ALIGN = 16;

export interface PlaneLayout {
  /** Byte range of the file's block. */
  from: number;
  bytes: number;
  /** GPU bytes per block. */
  stride: number;
  /** GPU bytes of one row's plane (blocks per row × stride). */
  rowBytes: number;
}

export interface RowLayout {
  format: TensorFormat;
  /** Blocks per row. */
  blocks: number;
  /** Bytes of one row in the GGUF file. */
  fileRowBytes: number;
  planes: PlaneLayout[];
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/** The format of `type` when the WebGPU backend has kernels for it, else a clear error. */
export function gpuFormat(type: GgmlType): TensorFormat {
  const f = requireFormat(type);
  if (!f.wgsl) throw new Error(`tensor type ${ggmlTypeName(type)} has no WebGPU kernel yet`);
  return f;
}

export function rowLayout(type: GgmlType, cols: number): RowLayout {
  const format = gpuFormat(type);
  const fileRowBytes = rowBytes(format, cols);
  const blocks = cols / format.blockSize;
  const planes = (format.gpuPlanes ?? [{ from: 0, bytes: format.typeSize }]).map((p) => {
    const stride = p.stride ?? p.bytes;
    if (!(stride === 1 || stride === 2 || stride % 4 === 0) || stride < p.bytes || p.from + p.bytes > format.typeSize) {
      throw new Error(`${format.name}: GPU plane ${JSON.stringify(p)} breaks the layout rule (stride 1, 2 or a multiple of 4, within the block)`);
    }
    return { from: p.from, bytes: p.bytes, stride, rowBytes: blocks * stride };
  });
  return { format, blocks, fileRowBytes, planes };
}

/** GPU bytes of a shard of `rows` rows: each plane's region, 16-byte aligned; planeOffsets in bytes. */
export function shardBytes(layout: RowLayout, rows: number): { bytes: number; planeOffsets: number[] } {
  const planeOffsets: number[] = [];
  let at = 0;
  for (const p of layout.planes) {
    planeOffsets.push(at);
    at = alignUp(at + p.rowBytes * rows, REGION_ALIGN);
  }
  return { bytes: Math.max(at, REGION_ALIGN), planeOffsets };
}

export interface ShardPlan {
  rowStart: number;
  rows: number;
  bytes: number;
  /** Byte offset of each plane's region in the shard's buffer (plane 0 at 0). */
  planeOffsets: number[];
}

/** Word offsets of planes 1 and 2 (0 when absent), as the matmul and get_rows params carry them. */
export function planeWords(planeOffsets: readonly number[]): [number, number] {
  return [(planeOffsets[1] ?? 0) / 4, (planeOffsets[2] ?? 0) / 4];
}

/**
 * Splits `rows` into shards that each fit in one binding of at most `maxBindingBytes`; shards other than
 * the last hold a multiple of 4 rows (the kernels' row tile) so that every plane's part of a chunk of rows
 * starts on a word.
 */
export function planShards(type: GgmlType, rows: number, cols: number, maxBindingBytes: number): ShardPlan[] {
  const layout = rowLayout(type, cols);
  const perRow = layout.planes.reduce((n, p) => n + p.rowBytes, 0);
  const slack = REGION_ALIGN * layout.planes.length;
  let maxRows = Math.floor((maxBindingBytes - slack) / perRow);
  if (maxRows >= rows) maxRows = rows;
  else maxRows -= maxRows % 4;
  if (maxRows < 1) throw new Error(`one row of ${cols} ${ggmlTypeName(type)} values (${perRow} bytes) exceeds the binding limit of ${maxBindingBytes} bytes`);
  const shards: ShardPlan[] = [];
  for (let r = 0; r < rows; r += maxRows) {
    const n = Math.min(maxRows, rows - r);
    shards.push({ rowStart: r, rows: n, ...shardBytes(layout, n) });
  }
  return shards;
}

/**
 * Repacks `rows` whole rows of ggml blocks from `src` into one array per plane: each block reordered by the
 * format's gpuReorder when it has one, then cut; planes[p] receives rows × planes[p].rowBytes bytes from its
 * start (padding bytes of a stride are zero).
 */
export function repackRows(layout: RowLayout, rows: number, src: Uint8Array, planes: Uint8Array[]): void {
  const f = layout.format;
  const ts = f.typeSize;
  const nBlocks = rows * layout.blocks;
  if (f.gpuReorder) {
    const whole = layout.planes.length === 1 && layout.planes[0]!.stride === ts;
    const reordered = whole ? planes[0]! : new Uint8Array(nBlocks * ts);
    for (let b = 0; b < nBlocks; b++) f.gpuReorder(src, b * ts, reordered, b * ts);
    if (whole) return;
    src = reordered;
  }
  layout.planes.forEach((p, i) => {
    const dst = planes[i]!;
    if (p.from === 0 && p.bytes === ts && p.stride === ts) {
      dst.set(src.subarray(0, nBlocks * ts));
      return;
    }
    if (p.stride > p.bytes) dst.fill(0, 0, nBlocks * p.stride);
    if (ts % 4 === 0 && p.from % 4 === 0 && p.bytes % 4 === 0 && p.stride % 4 === 0 && src.byteOffset % 4 === 0 && dst.byteOffset % 4 === 0) {
      // whole words (Q4_1, Q5_1, Q2_K, IQ4_XS)
      const s32 = new Uint32Array(src.buffer, src.byteOffset, (nBlocks * ts) / 4);
      const d32 = new Uint32Array(dst.buffer, dst.byteOffset, (nBlocks * p.stride) / 4);
      const tw = ts / 4;
      const fw = p.from / 4;
      const bw = p.bytes / 4;
      const sw = p.stride / 4;
      for (let b = 0; b < nBlocks; b++) for (let j = 0; j < bw; j++) d32[b * sw + j] = s32[b * tw + fw + j]!;
    } else {
      for (let b = 0, s = p.from, d = 0; b < nBlocks; b++, s += ts, d += p.stride) for (let j = 0; j < p.bytes; j++) dst[d + j] = src[s + j]!;
    }
  });
}
