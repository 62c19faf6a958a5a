/** What a model needs on the GPU, by tensor class, next to what the device allows. */
import type { GgufFile } from '../gguf/gguf-reader.js';
import type { Placement } from './placement.js';

export type TensorClass = 'embeddings' | 'output' | 'attention' | 'experts' | 'shared experts' | 'router' | 'dense ffn' | 'norms';

export function tensorClass(name: string): TensorClass {
  if (name.startsWith('token_embd')) return 'embeddings';
  if (name.startsWith('output.')) return 'output';
  if (/_exps\./.test(name)) return 'experts';
  if (/_shexp\./.test(name)) return 'shared experts';
  if (/ffn_gate_inp\./.test(name)) return 'router';
  if (/\.(ffn_gate|ffn_up|ffn_down)\./.test(name)) return 'dense ffn';
  if (/norm/.test(name)) return 'norms';
  return 'attention';
}

export interface MemoryPlan {
  byClass: Record<string, number>;
  weights: number;
  kvCache: number;
  activations: number;
  total: number;
  largestTensor: { name: string; bytes: number };
  maxBindingBytes: number;
  maxBufferSize: number;
  /** Weight matrices (or expert slabs) split into row shards to fit the binding limit. */
  shardedMatrices?: number;
  /** Where the weights live under the GPU budget (GPU backend); `weights` and `total` then count only the GPU's bytes. */
  placement?: Placement;
}

export function weightBytesByClass(file: GgufFile): { byClass: Record<string, number>; weights: number; largest: { name: string; bytes: number } } {
  const byClass: Record<string, number> = {};
  let weights = 0;
  let largest = { name: '', bytes: 0 };
  for (const t of file.tensors) {
    const c = tensorClass(t.name);
    byClass[c] = (byClass[c] ?? 0) + t.byteSize;
    weights += t.byteSize;
    const perSlab = /_exps\./.test(t.name) ? t.byteSize / (t.dims[2] ?? 1) : t.byteSize;
    if (perSlab > largest.bytes) largest = { name: t.name, bytes: perSlab };
  }
  return { byClass, weights, largest };
}

export function kvCacheBytes(nLayer: number, nSlots: number, nCtx: number, kvDimK: number, kvDimV: number): number {
  return nLayer * nSlots * nCtx * (kvDimK + kvDimV) * 4;
}

const MiB = (n: number) => `${(n / 1048576).toFixed(1)} MiB`;

/** What the device running the model says about its memory (a software GPU adapter uses host memory). */
export interface DeviceMemoryNote {
  isFallback: boolean;
}

export function formatMemoryPlan(p: MemoryPlan, gpu?: DeviceMemoryNote): string {
  const lines = ['memory plan:'];
  for (const [k, v] of Object.entries(p.byClass).sort((a, b) => b[1] - a[1])) lines.push(`  ${k.padEnd(16)} ${MiB(v).padStart(12)}`);
  lines.push(`  ${'weights'.padEnd(16)} ${MiB(p.weights).padStart(12)}`);
  lines.push(`  ${'kv cache'.padEnd(16)} ${MiB(p.kvCache).padStart(12)}`);
  lines.push(`  ${'activations'.padEnd(16)} ${MiB(p.activations).padStart(12)}`);
  lines.push(`  ${'total'.padEnd(16)} ${MiB(p.total).padStart(12)}`);
  lines.push(`  largest tensor (per expert slab): ${p.largestTensor.name} ${MiB(p.largestTensor.bytes)}`);
  if (p.shardedMatrices) lines.push(`  row-sharded matrices: ${p.shardedMatrices}`);
  lines.push(
    `  device allows: ${MiB(p.maxBindingBytes)} per binding (larger tensors are split into row shards), ${MiB(p.maxBufferSize)} per buffer` +
      (gpu ? `; ${gpu.isFallback ? 'software adapter: GPU memory is host memory' : 'total GPU memory is not exposed by WebGPU'}` : ''),
  );
  return lines.join('\n');
}
