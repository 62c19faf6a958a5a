/**
 * What a model needs in memory, by tensor class, next to what the device allows; and the estimates the
 * fit check (fit-plan.ts) plans with: KV cache and activations for a number of slots and a context.
 */
import type { GgufFile } from '../gguf/gguf-reader.js';
import type { Placement } from './placement.js';
import type { ModelConfig } from './hparams.js';

/** Element type of the KV cache: f16 (llama.cpp's default; two bytes) or f32. */
export type KvType = 'f16' | 'f32';
export const KV_TYPES: readonly KvType[] = ['f16', 'f32'];

export function isKvType(v: unknown): v is KvType {
  return v === 'f16' || v === 'f32';
}

export function kvElementBytes(t: KvType): number {
  return t === 'f16' ? 2 : 4;
}

export type TensorClass = 'embeddings' | 'output' | 'attention' | 'experts' | 'shared experts' | 'router' | 'dense ffn' | 'norms';

export function tensorClass(name: string): TensorClass {
  if (name.startsWith('token_embd')) return 'embeddings';
  if (name.startsWith('output.')) return 'output';
  if (/_exps\.|\.ffn_(gate|up|down)\.\d+\./.test(name)) return 'experts'; // merged, or one tensor per expert
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

/** K and V caches of every layer: [n_layer][n_slots · n_ctx][kvDimK + kvDimV] elements of `elementBytes`. */
export function kvCacheBytes(nLayer: number, nSlots: number, nCtx: number, kvDimK: number, kvDimV: number, elementBytes = 4): number {
  return nLayer * nSlots * nCtx * (kvDimK + kvDimV) * elementBytes;
}

/**
 * Activations and scratch of a step of `maxBatch` tokens, an upper bound for both backends: the f32 rows
 * of one token (residual, norms, q/k/v and attention output, routed experts' gate/up/out, dense and shared
 * FFN, router logits) with room for their Q8 copies, the logits rows kept, the RoPE table of the context
 * (cos, sin per position and pair) and a fixed margin for tables and uniforms.
 */
export function activationBytes(cfg: ModelConfig, maxBatch: number, nCtx: number, logitRows: number): number {
  const hd = Math.max(cfg.n_embd_head_k, cfg.n_embd_head_v);
  const perToken =
    cfg.n_embd * 8 + (2 * cfg.n_head + 2 * cfg.n_head_kv) * hd + cfg.n_expert_used * cfg.n_ff_exp * 3 + cfg.n_expert * 3 + (cfg.n_ff + cfg.n_ff_shexp) * 3;
  const ropeTable = nCtx * (cfg.n_embd_head_k / 2) * 8;
  return Math.ceil(maxBatch * perToken * 4 * 1.25) + logitRows * cfg.n_vocab * 4 + ropeTable + 4 * 1024 * 1024;
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

/**
 * Weight bytes a backend must hold in the memory its budget covers: all of them on the CPU backend; on
 * the GPU backend (or when the backend is not known yet) all but the routed experts, which the placement
 * may keep in host memory (model/placement.ts).
 */
export function residentWeightBytes(file: GgufFile, backend: 'gpu' | 'cpu' | 'any'): number {
  const { byClass, weights } = weightBytesByClass(file);
  return backend === 'cpu' ? weights : weights - (byClass['experts'] ?? 0);
}
