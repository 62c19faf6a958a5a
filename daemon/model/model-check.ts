/**
 * Everything that decides whether a GGUF can run, checked from its header before anything is uploaded,
 * with every problem reported (not only the first): architecture and hyperparameters, every tensor the
 * forward pass reads (presence, shape), tensor types against the kernels of the backend that will run
 * them (formats/table.ts hasKernel), features this engine lacks, the tokenizer, RoPE, split parts, and —
 * given the backend's limits — whether weights + KV cache + activations fit (fit-plan.ts).
 * The engine's load, `moecode info` and model discovery (extension/models) all run this. No Node-only
 * addons: the extension imports it.
 */
import { formatOf, hasKernel, KNOWN_FORMATS, type KernelSet, type TensorFormat } from '../formats/table.js';
import { ggmlTypeName } from '../gguf/ggml-types.js';
import type { GgufFile } from '../gguf/gguf-reader.js';
import { untrustedText } from '../gguf/untrusted-text.js';
import { Tokenizer } from '../engine/tokenizer/tokenizer.js';
import { tokenizerDataFromGguf } from '../engine/tokenizer/gguf-adapter.js';
import { planFit, type BackendLimits, type FitRequest, type FitResult } from './fit-plan.js';
import { checkModelConfig, type ModelConfig } from './hparams.js';
import { weightBytesByClass } from './memory-plan.js';
import { simpleProblem, type BackendKernelSet, type ModelProblem } from './model-problems.js';
import { modelWeights, unsupportedFeatures, type ModelWeights } from './model-weights.js';

export type RunningBackend = 'gpu' | 'cpu';

const KERNEL_SET: Record<RunningBackend, KernelSet> = { gpu: 'wgsl', cpu: 'cpu' };
const BACKEND_NAME: Record<BackendKernelSet, string> = { wgsl: 'the WebGPU backend', cpu: 'the CPU backend' };
const OTHER: Record<BackendKernelSet, BackendKernelSet> = { wgsl: 'cpu', cpu: 'wgsl' };

export interface ModelCheckOptions {
  /**
   * The backend that will run the model: a matrix type needs its kernel. Absent (not known yet): a type
   * needs a kernel on either backend, and types only one backend runs are noted.
   */
  backend?: RunningBackend;
  /** Build the tokenizer from the metadata (default true). */
  tokenizer?: boolean;
}

export interface ModelCheck {
  /** Absent when the architecture is unsupported or the hyperparameters cannot be read. */
  config?: ModelConfig;
  /** The weight handles, when the config has no problems. */
  weights?: ModelWeights;
  /** Bytes of every tensor in the file. */
  weightBytes: number;
  problems: ModelProblem[];
  /** Facts that are not blockers ("Q4_K runs on the CPU backend only"). */
  notes: string[];
}

/** Matrix types `backend`'s kernels run (both backends' union when absent). */
function runnableTypes(backend: RunningBackend | undefined): TensorFormat[] {
  return KNOWN_FORMATS.filter((f) => (backend ? hasKernel(f, KERNEL_SET[backend]) : hasKernel(f, 'wgsl') || hasKernel(f, 'cpu')));
}

export function checkModel(file: GgufFile, opts: ModelCheckOptions = {}): ModelCheck {
  const runnable = runnableTypes(opts.backend);
  const { config, problems: configProblems } = checkModelConfig(file, { weightTypes: runnable.map((f) => f.type) });
  const problems: ModelProblem[] = [];
  const notes: string[] = [];
  for (const p of configProblems) problems.push(p.kind === 'tensor-type' && p.role === 'matrix' ? typeProblem(p, opts.backend, runnable) : p);

  // split parts: openGguf (gguf-split-open.ts) opened and checked every part of a split model already

  if (opts.tokenizer ?? true) {
    try {
      const tokenizer = Tokenizer.fromData(tokenizerDataFromGguf(file.metadata));
      if (config && tokenizer.vocabSize !== config.n_vocab) {
        problems.push(simpleProblem('tokenizer', 'TOKENIZER', `the tokenizer has ${tokenizer.vocabSize} tokens but the model's vocabulary is ${config.n_vocab}`));
      }
    } catch (e) {
      problems.push(simpleProblem('tokenizer', 'TOKENIZER', `the tokenizer cannot be built: ${(e as Error).message}`));
    }
  }

  let weights: ModelWeights | undefined;
  if (config) {
    const missing = unsupportedFeatures(config);
    if (missing.length) problems.push(simpleProblem('feature', 'UNSUPPORTED_FEATURE', `${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not supported yet`));
    if (configProblems.length === 0 && missing.length === 0) weights = modelWeights(file, config);
    if (!opts.backend && weights) notes.push(...singleBackendNotes(weights));
  }
  return { config, weights, weightBytes: weightBytesByClass(file).weights, problems, notes };
}

/** A model's fit under `limits` (needs a config: a check with problems in the config cannot be planned). */
export function checkFit(check: ModelCheck, limits: BackendLimits, req: FitRequest): FitResult | undefined {
  return check.config ? planFit(check.config, check.weightBytes, limits, req) : undefined;
}

/** One problem for the tensors of one type no kernel of the backend(s) runs, naming the first tensor and the count. */
function typeProblem(p: Extract<ModelProblem, { kind: 'tensor-type' }>, backend: RunningBackend | undefined, runnable: TensorFormat[]): ModelProblem {
  const format = KNOWN_FORMATS.find((f) => f.name === p.type);
  const lacking: BackendKernelSet[] = format ? (['wgsl', 'cpu'] as const).filter((k) => !hasKernel(format, k)) : ['wgsl', 'cpu'];
  const n = p.tensors.length;
  const more = n > 1 ? ` (as ${n - 1} more tensor${n === 2 ? '' : 's'})` : '';
  let why: string;
  if (!format) why = 'a type unknown to this engine';
  else if (lacking.length === 2) why = 'a known format without kernels yet';
  else {
    const other = OTHER[lacking[0]!];
    why = `${BACKEND_NAME[lacking[0]!]} has no kernel for it; ${BACKEND_NAME[other]} has (${other === 'cpu' ? '--backend cpu, moecode.engine.backend "cpu"' : '--backend gpu'})`;
  }
  const supported = runnable.map((f) => f.name).join(', ');
  const where = backend ? ` on ${BACKEND_NAME[KERNEL_SET[backend]]}` : '';
  return {
    ...p,
    backends: backend ? [KERNEL_SET[backend]] : lacking,
    message: `tensor '${untrustedText(p.tensors[0]!)}' has type ${p.type}${more}: ${why}; matrices${where} run as ${supported}`,
  };
}

/** "Q4_K: the WebGPU backend has no kernel (the CPU backend runs it)" for types of the model only one backend runs. */
function singleBackendNotes(weights: ModelWeights): string[] {
  const types = new Set<number>();
  const add = (t: { type: number }) => types.add(t.type);
  add(weights.tok_embd);
  add(weights.output);
  for (const l of weights.layers) {
    for (const w of [l.wq, l.wk, l.wv, l.wo, l.router, l.ffn_gate, l.ffn_up, l.ffn_down]) if (w) add(w);
    if (l.experts) [...l.experts.gate, ...l.experts.up, ...l.experts.down].forEach(add);
    if (l.shared) [l.shared.gate, l.shared.up, l.shared.down].forEach(add);
  }
  const out: string[] = [];
  for (const t of types) {
    const f = formatOf(t);
    if (!f) continue;
    for (const k of ['wgsl', 'cpu'] as const) {
      if (!hasKernel(f, k) && hasKernel(f, OTHER[k])) out.push(`${ggmlTypeName(t)}: ${BACKEND_NAME[k]} has no kernel for it, so the model runs on ${BACKEND_NAME[OTHER[k]]} only`);
    }
  }
  return out;
}
