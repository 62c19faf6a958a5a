/**
 * The CPU expert service's shared job block (main thread ⇄ expert ranks): control.ts's header (sequence,
 * done and abort words), then the job: its tasks (one expert each: which layer and expert, the host cache
 * slot that holds it or gets it, whether the rank must read it from the file first, its rows) and, per
 * row, the input row (token) it reads. Output row r of a job is row r of each rank's output buffer (a
 * partial sum over the rank's share of the expert width), in task order.
 */
import type { ModelConfig } from '../model/hparams.js';
import type { ExpertWeights } from '../model/weights.js';
import { createControl, Ctl } from './control.js';
import type { TensorLocation } from './slice-reader.js';

export const enum Job {
  N_TASKS = Ctl.TOKENS,
  N_X = Ctl.TOKENS + 1,
  TASKS = Ctl.TOKENS + 2,
}

export const TASK_WORDS = 6;
export const enum Task {
  LAYER = 0,
  EXPERT = 1,
  SLOT = 2,
  LOAD = 3,
  ROW_START = 4,
  ROW_COUNT = 5,
}

export interface JobLayout {
  maxTasks: number;
  maxRows: number;
  /** Index of the first row word. */
  rows: number;
}

export function jobLayout(maxTasks: number, maxRows: number): JobLayout {
  return { maxTasks, maxRows, rows: Job.TASKS + maxTasks * TASK_WORDS };
}

export function createJobControl(l: JobLayout): Int32Array {
  return createControl(l.rows - Ctl.TOKENS + l.maxRows);
}

/** main → expert rank, once. */
export interface ExpertRankInit {
  kind: 'experts';
  rank: number;
  nRanks: number;
  module: WebAssembly.Module;
  memory: WebAssembly.Memory;
  control: Int32Array;
  layout: JobLayout;
  cfg: ModelConfig;
  /** By layer index: the layer's experts, or null (dense layer, or no expert of it on the host). */
  layers: (ExpertWeights | null)[];
  tensors: Record<string, TensorLocation>;
  hostSlots: number;
  /** Most input rows (tokens) of a job. */
  maxX: number;
}

/** expert rank → main. */
export type ExpertRankMessage =
  | { kind: 'ready'; rank: number; xPtr: number; outPtr: number; bytes: number }
  | { kind: 'error'; rank: number; message: string; stack?: string };
