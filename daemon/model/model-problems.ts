/**
 * What can keep a GGUF from running, as data: every check (file, architecture, hyperparameters, tensors,
 * tensor types per backend, tokenizer, RoPE, split parts, memory fit) reports ModelProblems instead of
 * throwing at the first one, so `moecode info`, model discovery and a load can say everything at once.
 * A problem keeps the GgufError code of the check that found it ('DOES_NOT_FIT' for the memory check).
 * Pure data and text: no Node-only modules (the extension imports it through model discovery).
 */
import { GgufError, type GgufErrorCode } from '../gguf/gguf-error.js';
import { boundedMessage } from '../gguf/untrusted-text.js';

/** Which check found the problem. */
export type ProblemKind = 'file' | 'architecture' | 'hparams' | 'rope' | 'tensor' | 'tensor-type' | 'feature' | 'tokenizer' | 'split' | 'fit';

export type ProblemCode = GgufErrorCode | 'TOKENIZER' | 'DOES_NOT_FIT';

/** The kernel sets a tensor format can lack (formats/table.ts KernelSet): the WebGPU and the CPU backend. */
export type BackendKernelSet = 'wgsl' | 'cpu';

/** What to lower (or raise) so a model fits, and to what. */
export interface FitAdvice {
  /** Bytes the smallest allowed plan needs, and what limits it. */
  needBytes: number;
  limitBytes: number;
  /** The limit that is exceeded: the memory budget, one GPU buffer, one WebAssembly memory (per CPU rank). */
  limit: 'budget' | 'gpu-buffer' | 'wasm-memory';
  /** Where the budget came from ('moecode.gpu.memoryBudget', 'host free memory', …); for the budget limit. */
  budgetSource?: string;
  /** Context length per slot that would fit with `slots` slots (0: none would). */
  maxContext: number;
  slots: number;
  /** The context that was asked for (0: automatic). */
  requestedContext: number;
}

interface ProblemBase {
  code: ProblemCode;
  /** One sentence for people (bounded, no control characters). */
  message: string;
}

export type ModelProblem =
  | (ProblemBase & { kind: 'file' | 'architecture' | 'hparams' | 'rope' | 'feature' | 'tokenizer' | 'split' })
  | (ProblemBase & { kind: 'tensor'; tensors: string[] })
  /** Tensors of one type without a kernel on `backends` (both: no backend runs the type). */
  | (ProblemBase & { kind: 'tensor-type'; type: string; tensors: string[]; backends: BackendKernelSet[]; role: 'matrix' | 'vector' })
  | (ProblemBase & { kind: 'fit'; fit: FitAdvice });

/** Most problems a check keeps (a file missing one tensor in 512 layers says so once, with a count). */
export const MAX_PROBLEMS = 64;

/** Thrown by a load that found problems: all of them, with the code of the first (so callers matching GgufError codes keep working). */
export class ModelCheckError extends GgufError {
  readonly problems: readonly ModelProblem[];

  constructor(problems: readonly ModelProblem[]) {
    const first = problems[0];
    const code: GgufErrorCode = first && first.code !== 'TOKENIZER' && first.code !== 'DOES_NOT_FIT' ? first.code : 'BAD_ARGUMENT';
    super(code, describeProblems(problems));
    this.name = 'ModelCheckError';
    this.problems = problems;
  }

  /** Whether the only problems are memory fit problems (the model itself is fine). */
  get onlyFit(): boolean {
    return this.problems.length > 0 && this.problems.every((p) => p.kind === 'fit');
  }
}

/** All problems in one message: the first, then "; also: …" for the rest (bounded). */
export function describeProblems(problems: readonly ModelProblem[]): string {
  if (problems.length === 0) return 'no problems';
  if (problems.length === 1) return problems[0]!.message;
  const rest = problems.slice(1).map((p) => p.message);
  return boundedMessage(`${problems[0]!.message} (and ${rest.length} more problem${rest.length === 1 ? '' : 's'}: ${rest.join('; ')})`);
}

/** A problem of a kind that needs no extra fields. */
export function simpleProblem(kind: 'file' | 'architecture' | 'hparams' | 'rope' | 'feature' | 'tokenizer' | 'split', code: ProblemCode, message: string): ModelProblem {
  return { kind, code, message: boundedMessage(message) };
}

/**
 * Problems of the same code whose messages differ only in the layer number are merged into one that
 * names the first and counts the rest; the list is cut at MAX_PROBLEMS.
 */
export function mergeLayerRepeats(problems: readonly ModelProblem[]): ModelProblem[] {
  const out: ModelProblem[] = [];
  const byKey = new Map<string, { at: number; layers: number }>();
  for (const p of problems) {
    const key = `${p.kind}|${p.code}|${p.message.replace(/blk\.\d+\./g, 'blk.*.').replace(/layer \d+/g, 'layer *')}`;
    const seen = byKey.get(key);
    if (seen) {
      seen.layers++;
      const first = out[seen.at]!;
      if ((first.kind === 'tensor' && p.kind === 'tensor') || (first.kind === 'tensor-type' && p.kind === 'tensor-type')) first.tensors.push(...p.tensors);
      continue;
    }
    byKey.set(key, { at: out.length, layers: 1 });
    out.push(p.kind === 'tensor' || p.kind === 'tensor-type' ? { ...p, tensors: [...p.tensors] } : p);
  }
  for (const { at, layers } of byKey.values()) {
    if (layers > 1) out[at] = { ...out[at]!, message: boundedMessage(`${out[at]!.message} (the same in ${layers - 1} more layer${layers === 2 ? '' : 's'})`) };
  }
  return out.slice(0, MAX_PROBLEMS);
}
