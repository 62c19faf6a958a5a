/** What every route of `moecode serve` works with (built once by http-server.ts). */
import type { BackendChoice } from '../engine/backend-choice.js';
import type { ModelManager } from '../features/model-manager.js';
import type { Scheduler } from '../scheduler/scheduler.js';

export interface ServeOptions {
  modelPath: string;
  host: string;
  /** 0: any free port (the readiness line says which). */
  port: number;
  /** Every request but GET /health needs `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  /** Most requests waiting per class (FIM completions; chats and plain completions); more get 429. */
  maxQueue: number;
  maxBodyBytes: number;
  /** Which backend runs the model (--backend, else MOECODE_BACKEND, else auto) and the CPU backend's threads. */
  backend: BackendChoice;
  threads: number;
  /** GPU memory budget in bytes (--gpu-budget; absent: MOECODE_GPU_BUDGET, else the adapter's default). */
  gpuBudgetBytes?: number;
}

export interface ServeContext {
  readonly options: ServeOptions;
  readonly model: ModelManager;
  readonly scheduler: Scheduler;
  /** The name /v1/models lists and answers carry: the model file's name without `.gguf`. */
  readonly modelId: string;
  /** Unix seconds the server started. */
  readonly startedAt: number;
  log(message: string): void;
}
