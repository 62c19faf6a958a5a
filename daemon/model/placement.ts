/**
 * Where each part of a model lives under a GPU memory budget (backend-neutral; the GPU backend follows it).
 *
 *   GPU    embeddings, attention, norms, routers, shared experts, dense FFNs, the output head, the KV cache
 *          and the activations: always (the "fixed" part); a budget smaller than it is refused up front
 *   GPU    expert slots: what the budget leaves, in slots of one routed expert of one layer (its gate, up
 *          and down slabs); slots are dealt out to the MoE layers in turn, so layers differ by one at most
 *   host   every other expert, computed on the CPU or uploaded into a slot when that is cheaper; at most
 *          `hostCacheBytes` of them are held in memory at a time, read from the GGUF on demand
 *   disk   the experts the host cache cannot hold at once (read again when needed)
 *
 * Slots are per layer (a slot of layer l holds only layer l's experts) because the GPU graph binds each
 * slot's buffers in layer l's recorded matmuls once, at load; which expert a slot holds changes at run
 * time (the expert cache), how many slots a layer has does not.
 */
import { formatBytes } from './byte-size.js';
import type { ModelWeights } from './model-weights.js';
import { tensorClass } from './memory-plan.js';
import type { VectorHandle, WeightHandle } from './weights.js';

export class GpuBudgetTooSmallError extends Error {
  override name = 'GpuBudgetTooSmallError';
  constructor(
    message: string,
    readonly minimumBytes: number,
    readonly budgetBytes: number,
  ) {
    super(message);
  }
}

export interface PlacementInput {
  weights: ModelWeights;
  /** Bytes a matrix takes on the GPU (its layout there, row shards included). */
  gpuMatrixBytes: (h: WeightHandle) => number;
  /** Bytes a vector takes on the GPU. */
  gpuVectorBytes: (h: VectorHandle) => number;
  /** Bytes a matrix takes in the file (what the host holds of it). */
  fileMatrixBytes: (h: WeightHandle) => number;
  kvCacheBytes: number;
  /** Activations, scratch and the expert executor's buffers on the GPU (an upper bound). */
  activationBytes: number;
  /** GPU budget in bytes; null: no limit (every expert resident). */
  budgetBytes: number | null;
  /** Host memory for experts not on the GPU; null: all of them. */
  hostCacheBytes: number | null;
}

export interface ClassBytes {
  gpu: number;
  host: number;
  disk: number;
}

export interface Placement {
  budgetBytes: number | null;
  /** GPU bytes every budget must hold: non-expert weights, KV cache, activations. */
  minimumBytes: number;
  /** Expert slots of each layer (0 for dense layers; n_expert: the layer is fully resident). */
  slots: number[];
  /** GPU bytes of one slot of each layer (0 for dense layers). */
  slotBytes: number[];
  /** Routed experts of the whole model, and how many of them have a GPU slot. */
  experts: { total: number; gpu: number };
  /** Host memory for experts not on the GPU (the host expert cache's capacity). */
  hostCacheBytes: number;
  /** Weight bytes by tensor class and place (memory-plan.ts classes), plus 'kv cache' and 'activations'. */
  byClass: Record<string, ClassBytes>;
  gpuBytes: number;
  /** Every expert has a GPU slot: the model runs as if nothing were offloaded. */
  allResident: boolean;
}

/** GPU bytes of one slot of a layer: one expert's gate, up and down slabs. */
function layerSlotBytes(input: PlacementInput, il: number): number {
  const e = input.weights.layers[il]!.experts;
  if (!e) return 0;
  return input.gpuMatrixBytes(e.gate[0]!) + input.gpuMatrixBytes(e.up[0]!) + input.gpuMatrixBytes(e.down[0]!);
}

function layerExpertFileBytes(input: PlacementInput, il: number): number {
  const e = input.weights.layers[il]!.experts;
  if (!e) return 0;
  return input.fileMatrixBytes(e.gate[0]!) + input.fileMatrixBytes(e.up[0]!) + input.fileMatrixBytes(e.down[0]!);
}

/** Non-expert weight bytes on the GPU by tensor class. */
function fixedWeightsByClass(input: PlacementInput): Record<string, number> {
  const out: Record<string, number> = {};
  const seen = new Set<string>();
  const add = (name: string, tensor: string, bytes: number) => {
    if (seen.has(name)) return;
    seen.add(name);
    const c = tensorClass(tensor);
    out[c] = (out[c] ?? 0) + bytes;
  };
  const w = input.weights;
  const mat = (h: WeightHandle | undefined) => h && add(h.name, h.tensor, input.gpuMatrixBytes(h));
  const vec = (h: VectorHandle | undefined) => h && add(h.name, h.tensor, input.gpuVectorBytes(h));
  mat(w.tok_embd);
  vec(w.output_norm);
  for (const l of w.layers) {
    [l.wq, l.wk, l.wv, l.wo, l.router, l.ffn_gate, l.ffn_up, l.ffn_down].forEach(mat);
    if (l.shared) [l.shared.gate, l.shared.up, l.shared.down, l.shared.gateInp].forEach(mat);
    [l.attn_norm, l.attn_q_norm, l.attn_k_norm, l.attn_out_norm, l.ffn_norm, l.ffn_post_norm].forEach(vec);
  }
  mat(w.output);
  return out;
}

/**
 * Places the model: throws GpuBudgetTooSmallError (naming the minimum) when the budget cannot hold the
 * non-expert part, the KV cache and the activations.
 */
export function planPlacement(input: PlacementInput): Placement {
  const layers = input.weights.layers;
  const fixedWeights = fixedWeightsByClass(input);
  const fixed = Object.values(fixedWeights).reduce((a, b) => a + b, 0) + input.kvCacheBytes + input.activationBytes;
  const budget = input.budgetBytes;
  if (budget !== null && budget < fixed) {
    throw new GpuBudgetTooSmallError(
      `a GPU budget of ${formatBytes(budget)} is too small for this model: its non-expert weights, KV cache and activations need ${formatBytes(fixed)} (${fixed} bytes) on the GPU; ` +
        'use a budget of at least that (the experts can live in host memory), or a shorter context',
      fixed,
      budget,
    );
  }
  const slotBytes = layers.map((_, il) => layerSlotBytes(input, il));
  const nExpert = layers.map((l) => l.experts?.up.length ?? 0);
  const slots = layers.map(() => 0);
  if (budget === null) nExpert.forEach((n, il) => (slots[il] = n));
  else {
    // one more slot to every MoE layer in turn while the budget lasts
    let left = budget - fixed;
    for (let progress = true; progress; ) {
      progress = false;
      for (let il = 0; il < layers.length; il++) {
        if (slots[il]! < nExpert[il]! && slotBytes[il]! <= left) {
          slots[il]!++;
          left -= slotBytes[il]!;
          progress = true;
        }
      }
    }
  }
  const total = nExpert.reduce((a, b) => a + b, 0);
  const gpuExperts = slots.reduce((a, b) => a + b, 0);
  const gpuExpertBytes = slots.reduce((a, s, il) => a + s * slotBytes[il]!, 0);
  const hostExpertBytes = layers.reduce((a, _, il) => a + (nExpert[il]! - slots[il]!) * layerExpertFileBytes(input, il), 0);
  const hostCacheBytes = Math.min(hostExpertBytes, input.hostCacheBytes ?? hostExpertBytes);
  const byClass: Record<string, ClassBytes> = {};
  for (const [c, b] of Object.entries(fixedWeights)) byClass[c] = { gpu: b, host: 0, disk: 0 };
  if (total > 0) byClass['experts'] = { gpu: gpuExpertBytes, host: hostCacheBytes, disk: hostExpertBytes - hostCacheBytes };
  byClass['kv cache'] = { gpu: input.kvCacheBytes, host: 0, disk: 0 };
  byClass['activations'] = { gpu: input.activationBytes, host: 0, disk: 0 };
  return {
    budgetBytes: budget,
    minimumBytes: fixed,
    slots,
    slotBytes,
    experts: { total, gpu: gpuExperts },
    hostCacheBytes,
    byClass,
    gpuBytes: fixed + gpuExpertBytes,
    allResident: gpuExperts === total,
  };
}

/**
 * The budget that holds the fixed part plus `share` (0..1) of the expert bytes (of an unlimited placement
 * `p`): how benchmarks and tests ask for "25% of the experts on the GPU" whatever the model.
 */
export function budgetForExpertShare(p: Placement, share: number): number {
  if (!(share >= 0 && share <= 1)) throw new RangeError(`expert share ${share} is not between 0 and 1`);
  const experts = p.slots.reduce((n, s, il) => n + s * p.slotBytes[il]!, 0);
  return p.minimumBytes + Math.floor(share * experts);
}

/** The placement as a table for `moecode info`: bytes per class on the GPU, in host memory and on disk. */
export function formatPlacement(p: Placement): string {
  const cell = (n: number) => (n ? formatBytes(n) : '-').padStart(12);
  const lines = [`placement (GPU budget ${p.budgetBytes === null ? 'unlimited' : formatBytes(p.budgetBytes)}; at least ${formatBytes(p.minimumBytes)} needed):`];
  lines.push(`  ${''.padEnd(16)} ${'GPU'.padStart(12)} ${'host'.padStart(12)} ${'disk'.padStart(12)}`);
  const rows = Object.entries(p.byClass).sort((a, b) => b[1].gpu + b[1].host + b[1].disk - (a[1].gpu + a[1].host + a[1].disk));
  for (const [c, b] of rows) lines.push(`  ${c.padEnd(16)} ${cell(b.gpu)} ${cell(b.host)} ${cell(b.disk)}`);
  const sum = (k: keyof ClassBytes) => rows.reduce((a, [, b]) => a + b[k], 0);
  lines.push(`  ${'total'.padEnd(16)} ${cell(sum('gpu'))} ${cell(sum('host'))} ${cell(sum('disk'))}`);
  if (p.experts.total > 0) {
    const moe = p.slots.filter((_, il) => p.slotBytes[il]! > 0);
    const pct = ((100 * p.experts.gpu) / p.experts.total).toFixed(0);
    const lo = Math.min(...moe);
    const hi = Math.max(...moe);
    lines.push(
      `  experts on the GPU: ${p.experts.gpu} of ${p.experts.total} (${pct}%), ${lo === hi ? lo : `${lo}–${hi}`} slot${hi === 1 ? '' : 's'} per layer` +
        (p.allResident ? '' : `; the others run on the CPU or are uploaded when a batch needs them (host cache ${formatBytes(p.hostCacheBytes)})`),
    );
  }
  return lines.join('\n');
}
