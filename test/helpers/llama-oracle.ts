/**
 * llama.cpp (through node-llama-cpp, CPU only) as the oracle for conformance tests: full next-token
 * log-softmax after every prompt position, and greedy continuations.
 *
 * Settings for the tightest comparison (see /work/shared/notes/llama-cpp-oracle.md): F32 KV cache (F16,
 * llama.cpp's default, with `kvType: 'F16'`, to compare an engine's f16 cache), flash attention off, temperature 0 (the sampler then leaves the logits alone, so log p = log of the
 * returned probability). Probabilities come back as float32, so tokens more than ~87 nats below the
 * top come back as 0 → log p = -Infinity; compare only tokens well above that.
 */
import type { Llama, LlamaContext, LlamaModel, Token } from 'node-llama-cpp';

export interface OracleResult {
  /** [n_tokens][n_vocab] log p(next token | prompt[0..i]) for each prompt position i. */
  logprobs: Float64Array[];
  /** Greedy continuation of the whole prompt. */
  greedy: number[];
}

export interface OracleOptions {
  /** CPU threads (default: MOECODE_ORACLE_THREADS or 1). Results are identical for any count; on a busy
   * machine one thread is far faster for tiny models (no spinning thread barriers). */
  threads?: number;
  /** KV cache type of llama.cpp's context (default F32, the tightest comparison; F16 is llama.cpp's default). */
  kvType?: 'F32' | 'F16';
}

/** Thrown when llama.cpp refuses a model; `reason` holds what llama.cpp logged (its stderr). */
export class OracleLoadError extends Error {
  readonly reason: string;
  constructor(modelPath: string, reason: string, cause: unknown) {
    super(`llama.cpp failed to load ${modelPath}: ${reason || (cause instanceof Error ? cause.message : String(cause))}`, { cause });
    this.name = 'OracleLoadError';
    this.reason = reason;
  }
}

const LOG_KEEP = 400;
const logLines: string[] = [];
let llamaPromise: Promise<Llama> | undefined;

function llamaInstance(): Promise<Llama> {
  // Imported dynamically: node-llama-cpp is ESM with top-level await, which a CommonJS-compiled
  // caller (this package has no "type": "module") cannot require().
  llamaPromise ??= import('node-llama-cpp').then(({ getLlama, LlamaLogLevel }) =>
    getLlama({
      gpu: false,
      build: 'never',
      logLevel: LlamaLogLevel.warn,
      logger: (level, message) => {
        logLines.push(`[${level}] ${message.trimEnd()}`);
        if (logLines.length > LOG_KEEP) logLines.splice(0, logLines.length - LOG_KEEP);
      },
    }),
  );
  return llamaPromise;
}

/** Releases the llama.cpp backend (call once when a test file is done). */
export async function disposeOracle(): Promise<void> {
  const p = llamaPromise;
  llamaPromise = undefined;
  if (p) await (await p).dispose();
}

async function loadModel(modelPath: string, vocabOnly = false): Promise<LlamaModel> {
  const llama = await llamaInstance();
  const logStart = logLines.length;
  try {
    return await llama.loadModel({ modelPath, gpuLayers: 0, vocabOnly });
  } catch (e) {
    const reason = logLines
      .slice(Math.min(logStart, logLines.length))
      .filter((l) => /error|failed|exception/i.test(l))
      .join('\n');
    throw new OracleLoadError(modelPath, reason, e);
  }
}

/**
 * Runs `fn` on the model as llama.cpp loaded it (for tokenizer and vocabulary queries); disposes it after.
 * `vocabOnly` skips the weights.
 */
export async function withLlamaModel<T>(modelPath: string, fn: (model: LlamaModel) => Promise<T> | T, vocabOnly = false): Promise<T> {
  const model = await loadModel(modelPath, vocabOnly);
  try {
    return await fn(model);
  } finally {
    await model.dispose();
  }
}

async function withModel<T>(modelPath: string, nCtx: number, opts: OracleOptions, fn: (model: LlamaModel, ctx: LlamaContext) => Promise<T>): Promise<T> {
  const model = await loadModel(modelPath);
  let ctx: LlamaContext | undefined;
  try {
    ctx = await model.createContext({
      contextSize: nCtx,
      batchSize: Math.min(nCtx, 512),
      flashAttention: false,
      experimentalKvCacheKeyType: opts.kvType ?? 'F32',
      experimentalKvCacheValueType: opts.kvType ?? 'F32',
      threads: opts.threads ?? (Number(process.env.MOECODE_ORACLE_THREADS) || 1),
    });
    return await fn(model, ctx);
  } finally {
    await ctx?.dispose();
    await model.dispose();
  }
}

function vocabSize(model: LlamaModel): number {
  const tokens = (model.fileInfo.metadata as unknown as { tokenizer?: { ggml?: { tokens?: unknown[] } } }).tokenizer?.ggml?.tokens;
  if (!Array.isArray(tokens)) throw new Error(`cannot read tokenizer.ggml.tokens from ${model.filename}`);
  return tokens.length;
}

function contextFor(nTokens: number): number {
  return Math.max(64, Math.ceil((nTokens + 1) / 64) * 64);
}

/** Per-position log-softmax and a greedy continuation, from one model load. */
export async function oracleRun(modelPath: string, tokens: number[], nGreedy: number, opts: OracleOptions = {}): Promise<OracleResult> {
  if (tokens.length === 0) throw new Error('oracleRun: empty prompt');
  return withModel(modelPath, contextFor(tokens.length + nGreedy), opts, async (model, ctx) => {
    const V = vocabSize(model);
    const seq = ctx.getSequence();
    try {
      // One pass over the prompt: the full distribution after every position, and on the last one
      // also llama.cpp's own greedy pick (sampler at temperature 0, which leaves the logits alone).
      const greedyNext = { temperature: 0 };
      const out = await seq.controlledEvaluate(
        tokens.map((t, i) => [t as Token, { generateNext: { probabilities: true, ...(i === tokens.length - 1 && nGreedy > 0 ? { token: true, options: greedyNext } : {}) } }]),
      );
      const logprobs: Float64Array[] = [];
      for (let i = 0; i < tokens.length; i++) {
        const probs = out[i]?.next.probabilities;
        if (!probs) throw new Error(`llama.cpp returned no distribution for position ${i}`);
        const lp = new Float64Array(V).fill(-Infinity);
        for (const [t, p] of probs) if (p > 0) lp[t] = Math.log(p);
        logprobs.push(lp);
      }
      // Then greedy decoding one token at a time. (sequence.evaluate() would stop at end-of-generation
      // tokens such as <|file_sep|>; a conformance check wants exactly nGreedy tokens.)
      const greedy: number[] = [];
      let last = out[tokens.length - 1];
      while (greedy.length < nGreedy) {
        const t = last?.next.token;
        if (t === undefined || t === null) throw new Error(`llama.cpp produced no greedy token after ${greedy.length}`);
        greedy.push(t);
        if (greedy.length < nGreedy) [last] = await seq.controlledEvaluate([[t, { generateNext: { token: true, options: greedyNext } }]]);
      }
      return { logprobs, greedy };
    } finally {
      seq.dispose();
    }
  });
}

export async function oracleLogprobs(modelPath: string, tokens: number[], opts: OracleOptions = {}): Promise<Float64Array[]> {
  return (await oracleRun(modelPath, tokens, 0, opts)).logprobs;
}

export async function oracleGreedy(modelPath: string, tokens: number[], n: number, opts: OracleOptions = {}): Promise<number[]> {
  return (await oracleRun(modelPath, tokens, n, opts)).greedy;
}
