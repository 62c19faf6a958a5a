/** Messages between the CPU backend's main thread and its ranks (worker threads). */
import type { ModelConfig } from '../model/hparams.js';
import type { ModelWeights } from '../model/model-weights.js';
import type { PartitionPlan } from './partition.js';
import type { TensorLocation } from './slice-reader.js';

/** main → rank, once: everything a rank needs to load its share and record its program. */
export interface RankInit {
  rank: number;
  module: WebAssembly.Module;
  /** Every rank's memory (collectives read the others'), indexed by rank. */
  memories: WebAssembly.Memory[];
  control: Int32Array;
  cfg: ModelConfig;
  weights: ModelWeights;
  plan: PartitionPlan;
  tensors: Record<string, TensorLocation>;
  nCtx: number;
  nSlots: number;
  maxBatch: number;
  maxLogitRows: number;
  kvF16: boolean;
  /** Barrier spin iterations before sleeping (0 when ranks outnumber cores). */
  spin: number;
}

/** rank → main. */
export type RankMessage =
  | { kind: 'progress'; rank: number; fraction: number }
  | { kind: 'ready'; rank: number; logitsPtr: number; logitsCols: number; bytes: number }
  | { kind: 'error'; rank: number; message: string; stack?: string };
