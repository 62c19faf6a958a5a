/**
 * The contract between the engine and a backend that runs the forward pass (WebGPU: gpu/gpu-backend.ts;
 * WebAssembly on the CPU: cpu/cpu-backend.ts). A backend owns the weights it placed, the KV cache of every
 * slot and its scratch; the engine (engine/model.ts) splits prompts into chunks of at most `maxBatch`
 * tokens and checks slots, positions and token ids before calling it.
 */
import type { MemoryPlan } from './memory-plan.js';
import type { OffloadReport } from './offload-stats.js';

export interface SamplingParams {
  /** <= 0: greedy. */
  temperature: number;
  /** 0: no top-k limit (full vocabulary when topP >= 1, else the 256 most likely). */
  topK: number;
  topP: number;
  seed: number;
  /**
   * Tokens that may be drawn, as a bitset: bit (i & 31) of word i >> 5 set = token i allowed (at least
   * ceil(n_vocab / 32) words, at least one token allowed). The others are treated as logit -infinity in
   * every mode. Absent: every token. A backend may keep the last mask it saw, so a mask must not be
   * changed after it was first used: build a new one.
   */
  mask?: Uint32Array;
}

export type BackendKind = 'gpu' | 'cpu';

export interface BackendInfo {
  kind: BackendKind;
  /** What runs it, for people: "SwiftShader Device (vulkan, software fallback)", "CPU: WebAssembly SIMD, 2 threads". */
  description: string;
  /** A software WebGPU adapter (SwiftShader, lavapipe): correct but slow. */
  isSoftwareGpu: boolean;
  /** Worker threads of the CPU backend. */
  threads?: number;
}

/** A step: `tokens` at positions pos, pos+1, … of KV slot `slot` (at most maxBatch tokens). */
export interface StepInput {
  slot: number;
  pos: number;
  tokens: readonly number[];
}

export interface ForwardBackend {
  readonly info: BackendInfo;
  readonly memory: MemoryPlan;
  /** Runs the step and samples the token after its last position; `sampleIndex` seeds the draw with sampling.seed. */
  sample(step: StepInput, sampling: SamplingParams, sampleIndex: number): Promise<number>;
  /** Runs the step for its KV cache only. */
  feed(step: StepInput): Promise<void>;
  /** Runs the step and returns the logits after every position [n_tokens, n_vocab] (needs allLogits at load). */
  logits(step: StepInput): Promise<Float32Array>;
  /** Expert placement and cache counters, when some experts live outside the backend's device (GPU with host experts). */
  offloadReport?(): OffloadReport | undefined;
  dispose(): Promise<void>;
}

export interface BackendOptions {
  /** Context length of each KV slot. */
  nCtx: number;
  nSlots: number;
  /** Largest number of tokens in one step. */
  maxBatch: number;
  /** Keep logits for every position of a step (eval). */
  allLogits: boolean;
  onProgress?: (fraction: number) => void;
}
