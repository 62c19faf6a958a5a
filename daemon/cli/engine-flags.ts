/**
 * The flags every command that loads a model takes (run, eval, info, serve), as the daemon's settings:
 *   --backend auto|gpu|cpu   (else MOECODE_BACKEND, else auto)     moecode.engine.backend
 *   --threads N              CPU backend threads (0: physical cores) moecode.cpu.threads
 *   --kv-type f16|f32        KV cache element type                   moecode.engine.kvCacheType
 *   --ctx N                  context per slot (0: automatic)         moecode.engine.contextLength
 *   --memory-budget MB       memory budget (0: automatic)            moecode.gpu.memoryBudget
 */
import { backendChoice, type BackendChoice } from '../engine/backend-choice.js';
import { isKvType, type KvType } from '../model/memory-plan.js';
import { MAX_CONTEXT_LENGTH } from '../features/settings.js';
import { numberFlag, stringFlag, UsageError, type ParsedArgs } from './args.js';

export const ENGINE_FLAGS = ['backend', 'threads', 'kv-type', 'ctx', 'memory-budget'];

/** The knob the fit check's messages name for the budget on the command line. */
export const BUDGET_FLAG = '--memory-budget';

export interface EngineFlags {
  backend: BackendChoice;
  threads: number;
  kvType: KvType;
  /** Context per slot; 0: automatic. */
  contextLength: number;
  /** MB; 0: automatic. */
  memoryBudgetMb: number;
}

export function engineFlags(args: ParsedArgs, defaults: { kvType?: KvType; contextLength?: number } = {}): EngineFlags {
  let backend: BackendChoice;
  try {
    backend = backendChoice(stringFlag(args, 'backend'));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const kv = stringFlag(args, 'kv-type') ?? defaults.kvType ?? 'f16';
  if (!isKvType(kv)) throw new UsageError(`--kv-type: invalid value ${kv} (f16 or f32)`);
  return {
    backend,
    threads: numberFlag(args, 'threads', 0, (v) => Number.isInteger(v) && v >= 0 && v <= 256),
    kvType: kv,
    contextLength: numberFlag(args, 'ctx', defaults.contextLength ?? 0, (v) => Number.isInteger(v) && v >= 0 && v <= MAX_CONTEXT_LENGTH),
    memoryBudgetMb: numberFlag(args, 'memory-budget', 0, (v) => v >= 0 && v <= 1024 * 1024 * 1024),
  };
}
