/**
 * The flags every command that loads a model takes (run, eval, info, serve), as the daemon's settings:
 *   --backend auto|gpu|cpu   (else MOECODE_BACKEND, else auto)     moecode.engine.backend
 *   --threads N              CPU backend threads (0: physical cores) moecode.cpu.threads
 *   --kv-type f16|f32        KV cache element type                   moecode.engine.kvCacheType
 *   --ctx N                  context per slot (0: automatic)         moecode.engine.contextLength
 *   --gpu-budget SIZE        memory budget (bytes, 512MiB, 6GiB;     moecode.gpu.memoryBudget
 *                            else MOECODE_GPU_BUDGET, else automatic)
 */
import { backendChoice, type BackendChoice } from '../engine/backend-choice.js';
import { isKvType, type KvType } from '../model/memory-plan.js';
import { MAX_CONTEXT_LENGTH } from '../features/settings.js';
import { numberFlag, stringFlag, UsageError, type ParsedArgs } from './args.js';
import { ByteSizeError, parseByteSize } from '../model/byte-size.js';
import { budgetFromEnv } from '../model/memory-budget.js';

/** --gpu-budget SIZE in bytes (0 when absent); a malformed flag or MOECODE_GPU_BUDGET is a usage error, before anything loads. */
function budgetFlag(args: ParsedArgs): number {
  try {
    const v = stringFlag(args, 'gpu-budget');
    if (v === undefined) {
      budgetFromEnv();
      return 0;
    }
    const bytes = parseByteSize(v, '--gpu-budget');
    if (bytes === 0) throw new UsageError('--gpu-budget: 0 bytes cannot hold a model');
    return bytes;
  } catch (e) {
    if (e instanceof ByteSizeError) throw new UsageError(e.message);
    throw e;
  }
}

export const ENGINE_FLAGS = ['backend', 'threads', 'kv-type', 'ctx', 'gpu-budget'];

/** The knob the fit check's messages name for the budget on the command line. */
export const BUDGET_FLAG = '--gpu-budget';

export interface EngineFlags {
  backend: BackendChoice;
  threads: number;
  kvType: KvType;
  /** Context per slot; 0: automatic. */
  contextLength: number;
  /** Bytes; 0: MOECODE_GPU_BUDGET, else automatic (model/memory-budget.ts). */
  memoryBudget: number;
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
    memoryBudget: budgetFlag(args),
  };
}
