/**
 * Places a rank's share of the weights (partition.ts) in its WebAssembly memory and reads it from the
 * GGUF file (slice-reader.ts: whole row ranges with one read each, column slices — attn_output, ffn_down —
 * a chunk of rows at a time). Vectors (norms) are replicated, as f32.
 */
import { formatOf } from '../formats/table.js';
import { dequantizeRow } from '../gguf/quantize.js';
import type { ModelConfig } from '../model/hparams.js';
import { allMatrices, allVectors, type ModelWeights } from '../model/model-weights.js';
import type { WeightHandle } from '../model/weights.js';
import type { Arena } from './arena.js';
import type { PlacedMatrix } from './cpu-graph.js';
import { ffnKey, rangeLen, sliceOf, weightRole, type PartitionPlan } from './partition.js';
import { FileSet, readSlice, sliceBytes, type TensorLocation } from './slice-reader.js';

export interface LoadedShard {
  matrices: Map<string, PlacedMatrix>;
  vectors: Map<string, number>;
  bytes: number;
}

export class LoadCancelledError extends Error {
  override name = 'LoadCancelledError';
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
  const files = new FileSet();
  const location = (name: string) => {
    const loc = tensors[name];
    if (!loc) throw new Error(`tensor ${name} has no location`);
    return loc;
  };
  try {
    const all = allMatrices(weights);
    // gate/up rows follow the column split of their FFN's down matrix
    const downs = new Map<string, WeightHandle>();
    for (const h of all) if (weightRole(h) === 'ff_out') downs.set(`${ffnKey(h)}#${h.expert ?? ''}`, h);
    const jobs = all.map((h) => {
      const role = weightRole(h);
      const sl = sliceOf(h, role, cfg, plan, rank, role === 'ff_in' ? downs.get(`${ffnKey(h)}#${h.expert ?? ''}`) : undefined);
      return { h, sl, bytes: sliceBytes(h, sl) };
    });
    const expected = jobs.reduce((n, j) => n + j.bytes, 0);
    const matrices = new Map<string, PlacedMatrix>();
    let total = 0;
    for (const { h, sl, bytes } of jobs) {
      if (cancelled()) throw new LoadCancelledError('the load was cancelled');
      const ptr = arena.alloc(bytes, 64, h.name);
      readSlice(files, location(h.tensor), h, sl, new Uint8Array(memory.buffer, ptr, bytes));
      matrices.set(h.name, { ptr, rows: rangeLen(sl.rows), cols: rangeLen(sl.cols), type: h.type, rowStart: sl.rows.start });
      total += bytes;
      onProgress(expected ? total / expected : 1);
    }
    const vectors = new Map<string, number>();
    for (const v of allVectors(weights)) {
      const loc = location(v.tensor);
      const f = formatOf(loc.type);
      if (!f) throw new Error(`${v.tensor}: tensor type ${loc.type} has no format`);
      const raw = new Uint8Array((v.n / f.blockSize) * f.typeSize);
      files.readInto(loc.path, raw, loc.offset);
      const ptr = arena.alloc(v.n * 4, 64, v.name);
      new Float32Array(memory.buffer, ptr, v.n).set(dequantizeRow(loc.type, raw, v.n));
      vectors.set(v.name, ptr);
      total += v.n * 4;
    }
    return { matrices, vectors, bytes: total };
  } finally {
    files.close();
  }
}
