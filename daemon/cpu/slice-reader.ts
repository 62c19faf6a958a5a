/**
 * Reads a rank's slice of a weight matrix (partition.ts WeightSlice: rows × columns in whole blocks) from a
 * GGUF file straight into memory the caller gives (a rank's WebAssembly memory): whole row ranges with one
 * pread, wide column slices a pread per row, narrow ones a chunk of whole rows at a time. An expert slab starts
 * `expert` slabs into its tensor.
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { requireFormat, rowBytes } from '../formats/table.js';
import type { WeightHandle } from '../model/weights.js';
import { rangeLen, type WeightSlice } from './partition.js';

const CHUNK = 8 << 20;
/**
 * A column slice at least this wide per row is read row by row; a narrower one in chunks of whole rows (one
 * pread per CHUNK), the unused columns read and dropped: many small preads cost more than the bytes they skip.
 */
export const ROW_READ_MIN = 4096;

/** Where a tensor's data is: file, byte offset, type and dims (sent to the ranks by the main thread). */
export interface TensorLocation {
  path: string;
  offset: number;
  type: number;
  dims: number[];
}

/** Open files by path, closed together. */
export class FileSet {
  private readonly fds = new Map<string, number>();

  fd(path: string): number {
    let f = this.fds.get(path);
    if (f === undefined) this.fds.set(path, (f = openSync(path, 'r')));
    return f;
  }

  /** Fills `dst` from `position` of `path`; a short file is an error. */
  readInto(path: string, dst: Uint8Array, position: number): void {
    for (let done = 0; done < dst.length; ) {
      const n = readSync(this.fd(path), dst, done, Math.min(dst.length - done, 1 << 30), position + done);
      if (n <= 0) throw new Error(`${path}: short read at byte ${position + done}`);
      done += n;
    }
  }

  close(): void {
    for (const f of this.fds.values()) closeSync(f);
    this.fds.clear();
  }
}

/** Bytes of `h`'s slice `sl`. */
export function sliceBytes(h: WeightHandle, sl: WeightSlice): number {
  const f = requireFormat(h.type, h.name);
  return rangeLen(sl.rows) * (rangeLen(sl.cols) / f.blockSize) * f.typeSize;
}

/** Reads slice `sl` of `h` (rows packed, each rangeLen(cols) values) into `dst`; returns the bytes read from the file. */
export function readSlice(files: FileSet, loc: TensorLocation, h: WeightHandle, sl: WeightSlice, dst: Uint8Array): number {
  const f = requireFormat(h.type, h.name);
  const fileRow = rowBytes(f, h.cols);
  const colStart = (sl.cols.start / f.blockSize) * f.typeSize;
  const colBytes = (rangeLen(sl.cols) / f.blockSize) * f.typeSize;
  const rows = rangeLen(sl.rows);
  if (dst.length < rows * colBytes) throw new Error(`${h.name}: ${dst.length} bytes cannot hold a ${rows} x ${colBytes} byte slice`);
  const base = loc.offset + (h.expert ?? 0) * h.rows * fileRow + sl.rows.start * fileRow;
  if (rows === 0 || colBytes === 0) return 0;
  if (colBytes === fileRow) {
    files.readInto(loc.path, dst.subarray(0, rows * colBytes), base);
    return rows * colBytes;
  }
  if (colBytes >= ROW_READ_MIN) {
    // a wide column slice (a rank's share of `down`): each row's part with a pread of its own, so the ranks
    // together read the matrix once, not once each
    for (let r = 0; r < rows; r++) files.readInto(loc.path, dst.subarray(r * colBytes, (r + 1) * colBytes), base + r * fileRow + colStart);
    return rows * colBytes;
  }
  const per = Math.max(1, Math.floor(CHUNK / fileRow));
  const tmp = new Uint8Array(Math.min(per, rows) * fileRow);
  for (let r = 0; r < rows; r += per) {
    const n = Math.min(per, rows - r);
    const chunk = tmp.subarray(0, n * fileRow);
    files.readInto(loc.path, chunk, base + r * fileRow);
    for (let i = 0; i < n; i++) dst.set(chunk.subarray(i * fileRow + colStart, i * fileRow + colStart + colBytes), (r + i) * colBytes);
  }
  return rows * fileRow;
}
