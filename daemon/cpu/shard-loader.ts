/**
 * Places a rank's share of the weights (partition.ts) in its WebAssembly memory and reads it from the
 * GGUF file: whole row ranges with one read each, column slices (attn_output, ffn_down) a chunk of rows at
 * a time. Vectors (norms) are replicated, as f32.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { formatOf } from '../formats/table.js';
import { dequantizeRow } from '../gguf/quantize.js';
import type { ModelConfig } from '../model/hparams.js';
import { allMatrices, allVectors, type ModelWeights } from '../model/model-weights.js';
import type { WeightHandle } from '../model/weights.js';
import type { Arena } from './arena.js';
import type { PlacedMatrix } from './cpu-graph.js';
import { ffnKey, rangeLen, sliceOf, weightRole, type PartitionPlan } from './partition.js';

/** Where a tensor's data is: file, byte offset, type and dims (sent to the ranks by the main thread). */
export interface TensorLocation {
  path: string;
  offset: number;
  type: number;
  dims: number[];
}

export interface LoadedShard {
  matrices: Map<string, PlacedMatrix>;
  vectors: Map<string, number>;
  bytes: number;
}

const CHUNK = 8 << 20;

export class LoadCancelledError extends Error {
  override name = 'LoadCancelledError';
}

function rowBytesOf(type: number, cols: number): number {
  const f = formatOf(type);
  if (!f) throw new Error(`tensor type ${type} has no format`);
  return (cols / f.blockSize) * f.typeSize;
}

export function loadShard(
  memory: WebAssembly.Memory,
  arena: Arena,
  cfg: ModelConfig,
  weights: ModelWeights,
  plan: PartitionPlan,
  rank: number,
  tensors: Record<string, TensorLocation>,
  onProgress: (fraction: number) => void,
  /** Checked between tensors: a load given up by the main thread stops there (and closes its files). */
  cancelled: () => boolean = () => false,
): LoadedShard {
  const fds = new Map<string, number>();
  const fd = (path: string) => {
    let f = fds.get(path);
    if (f === undefined) fds.set(path, (f = openSync(path, 'r')));
    return f;
  };
  const readInto = (path: string, dst: Uint8Array, position: number) => {
    for (let done = 0; done < dst.length; ) {
      const n = readSync(fd(path), dst, done, Math.min(dst.length - done, 1 << 30), position + done);
      if (n <= 0) throw new Error(`${path}: short read at byte ${position + done}`);
      done += n;
    }
  };
  try {
    const all = allMatrices(weights);
    const downs = new Map<string, WeightHandle>();
    for (const h of all) if (weightRole(h) === 'ff_out') downs.set(`${ffnKey(h)}#${h.expert ?? ''}`, h);
    const jobs = all.map((h) => {
      const role = weightRole(h);
      const down = role === 'ff_in' ? downs.get(`${ffnKey(h)}#${h.expert ?? ''}`) : undefined;
      const sl = sliceOf(h, role, cfg, plan, rank, down);
      const f = formatOf(h.type)!;
      return { h, sl, bytes: rangeLen(sl.rows) * (rangeLen(sl.cols) / f.blockSize) * f.typeSize };
    });
    const expected = jobs.reduce((n, j) => n + j.bytes, 0);
    const matrices = new Map<string, PlacedMatrix>();
    let total = 0;
    for (const { h, sl } of jobs) {
      if (cancelled()) throw new LoadCancelledError('the load was cancelled');
      const loc = tensors[h.tensor];
      if (!loc) throw new Error(`tensor ${h.tensor} has no location`);
      const rowBytes = rowBytesOf(h.type, h.cols);
      const f = formatOf(h.type)!;
      const colStart = (sl.cols.start / f.blockSize) * f.typeSize;
      const colBytes = (rangeLen(sl.cols) / f.blockSize) * f.typeSize;
      const rows = rangeLen(sl.rows);
      const bytes = rows * colBytes;
      const ptr = arena.alloc(bytes, 64, h.name);
      const base = loc.offset + (h.expert ?? 0) * h.rows * rowBytes + sl.rows.start * rowBytes;
      if (colBytes === rowBytes) {
        readInto(loc.path, new Uint8Array(memory.buffer, ptr, bytes), base);
      } else if (bytes > 0) {
        const per = Math.max(1, Math.floor(CHUNK / rowBytes));
        const tmp = new Uint8Array(per * rowBytes);
        for (let r = 0; r < rows; r += per) {
          const n = Math.min(per, rows - r);
          const chunk = tmp.subarray(0, n * rowBytes);
          readInto(loc.path, chunk, base + r * rowBytes);
          const dst = new Uint8Array(memory.buffer, ptr + r * colBytes, n * colBytes);
          for (let i = 0; i < n; i++) dst.set(chunk.subarray(i * rowBytes + colStart, i * rowBytes + colStart + colBytes), i * colBytes);
        }
      }
      matrices.set(h.name, { ptr, rows, cols: rangeLen(sl.cols), type: h.type, rowStart: sl.rows.start });
      total += bytes;
      onProgress(expected ? total / expected : 1);
    }
    const vectors = new Map<string, number>();
    for (const v of allVectors(weights)) {
      const loc = tensors[v.tensor];
      if (!loc) throw new Error(`tensor ${v.tensor} has no location`);
      const raw = new Uint8Array(rowBytesOf(loc.type, v.n));
      readInto(loc.path, raw, loc.offset);
      const values = dequantizeRow(loc.type, raw, v.n);
      const ptr = arena.alloc(v.n * 4, 64, v.name);
      new Float32Array(memory.buffer, ptr, v.n).set(values);
      vectors.set(v.name, ptr);
      total += v.n * 4;
    }
    return { matrices, vectors, bytes: total };
  } finally {
    for (const f of fds.values()) closeSync(f);
  }
}
