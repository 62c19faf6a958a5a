/**
 * `moecode` command line:
 *   moecode info <model.gguf> [--json] [--gpu-budget SIZE]
 *   moecode run  <model.gguf> --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--chat] [--gpu-budget SIZE]
 *   moecode eval <model.gguf> --tokens 1,2,3 [--greedy N] --json [--gpu-budget SIZE]
 *   moecode tokenize <model.gguf> --text TEXT [--json]
 *   moecode serve [model.gguf] [--host H] [--port P] [--api-key KEY] [--max-queue N] [--max-body-mb M]
 * info, run, eval and serve also take the engine flags of engine-flags.ts (--backend, --threads,
 * --kv-type, --ctx, --gpu-budget); a model that does not fit is refused before anything is allocated.
 * The model may be omitted when MOECODE_MODEL is set or the shipped default model exists.
 */
import { existsSync } from 'node:fs';
import { Engine } from '../engine/engine.js';
import { generate } from '../engine/generate.js';
import { encodeChat } from '../engine/chat-encode.js';
import { openGguf } from '../gguf/gguf-reader.js';
import { offloadLine } from './placement-info.js';
import { numberFlag, parseArgs, stringFlag, UsageError, type ParsedArgs } from './args.js';
import { evalModel } from './eval.js';
import { noControlMask } from '../engine/token-mask.js';
import { defaultModelPath } from './default-model.js';
import { serve } from '../serve/http-server.js';
import { SERVE_VALUE_FLAGS, serveOptions } from '../serve/options.js';
import { BUDGET_FLAG, ENGINE_FLAGS, engineFlags } from './engine-flags.js';
import { infoReport } from './info.js';
import { tokenizeCommand } from './tokenize.js';
import { exitAfterFlush, exitQuietlyOnClosedStdout } from './exit-after-flush.js';
import { escapeControlCharacters, untrustedText } from '../gguf/untrusted-text.js';

export { exitAfterFlush } from './exit-after-flush.js';

const USAGE = `usage:
  moecode info <model.gguf> [--json] [ENGINE FLAGS]   (every problem that keeps the model from running, and the plan)
  moecode run  <model.gguf> --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--chat] [ENGINE FLAGS]
  moecode eval <model.gguf> --tokens 1,2,3 [--greedy N] --json [ENGINE FLAGS]   (KV cache f32 unless --kv-type f16)
  moecode tokenize <model.gguf> --text TEXT [--json]   (token ids as llama.cpp gives them; reads no weights)
  moecode serve [model.gguf] [--host 127.0.0.1] [--port 8012] [--api-key KEY] [--max-queue 8] [--max-body-mb 10] [ENGINE FLAGS]
        an OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, /infill, /v1/models, /health)
The model path may be left out when MOECODE_MODEL is set or the default model is installed.
ENGINE FLAGS:
  --backend auto|gpu|cpu  (default: MOECODE_BACKEND, else auto) auto runs a hardware GPU through WebGPU and the
                          CPU backend (WebAssembly SIMD) when there is none or only a software adapter
  --threads N             CPU backend threads (default: physical cores)
  --kv-type f16|f32       KV cache element type (default f16, as llama.cpp)
  --ctx N                 context length per KV slot (default 0: the longest that fits, at most the model's
                          training context)
  --gpu-budget SIZE       memory budget (bytes, 512MiB, 6GiB; default: MOECODE_GPU_BUDGET, else automatic):
                          on the GPU backend the GPU memory for the model — the experts that do not fit live
                          in host memory and run on the CPU or are uploaded when a batch needs them; on the
                          CPU backend the memory for weights + KV cache + activations. Automatic: 75% of the
                          free memory, at most twice the weights plus 1 GiB (no limit on a hardware GPU)
A model that does not fit is refused before anything is allocated, saying what to lower and by how much.`;

const BOOLEAN_FLAGS: Record<string, string[]> = { info: ['json'], run: ['chat'], eval: ['json'], tokenize: ['json'], serve: [] };
const VALUE_FLAGS: Record<string, string[]> = {
  info: [...ENGINE_FLAGS],
  run: ['prompt', 'max-tokens', 'temperature', 'top-k', 'top-p', 'seed', ...ENGINE_FLAGS],
  eval: ['tokens', 'greedy', 'max-binding-bytes', ...ENGINE_FLAGS],
  tokenize: ['text'],
  serve: [...SERVE_VALUE_FLAGS, ...ENGINE_FLAGS],
};

/** Thrown by `info` after its report when the model cannot run: exit code 1 with one line saying so. */
class CannotRunError extends Error {
  override name = 'CannotRunError';
}

function modelPath(args: ParsedArgs): string {
  const p = args.positional[0] ?? process.env.MOECODE_MODEL ?? defaultModelPath();
  if (!p) throw new UsageError('no model given, MOECODE_MODEL is not set and no default model is installed');
  if (!existsSync(p)) throw new UsageError(`model file not found: ${p}`);
  return p;
}

async function info(args: ParsedArgs): Promise<void> {
  const path = modelPath(args);
  const flags = engineFlags(args);
  const file = await openGguf(path);
  try {
    const report = await infoReport(path, file, flags);
    console.log(args.flags.has('json') ? report.json : report.text);
    const [first] = report.problems;
    const n = report.problems.length;
    if (first) throw new CannotRunError(`${n} problem${n === 1 ? ' keeps' : 's keep'} this model from running: ${first.message}${n > 1 ? ' …' : ''}`);
  } finally {
    await file.close();
  }
}

async function run(args: ParsedArgs): Promise<void> {
  const path = modelPath(args);
  const prompt = stringFlag(args, 'prompt');
  if (prompt === undefined) throw new UsageError('run needs --prompt TEXT');
  const maxTokens = numberFlag(args, 'max-tokens', 128, (v) => Number.isInteger(v) && v > 0);
  const temperature = numberFlag(args, 'temperature', 0, (v) => v >= 0);
  const topK = numberFlag(args, 'top-k', 40, (v) => Number.isInteger(v) && v >= 0);
  const topP = numberFlag(args, 'top-p', 0.95, (v) => v > 0 && v <= 1);
  const seed = numberFlag(args, 'seed', 42, (v) => Number.isInteger(v) && v >= 0);
  const progress = process.stderr.isTTY ? (f: number) => process.stderr.write(`\rloading ${(f * 100).toFixed(0)}%`) : undefined;
  const flags = engineFlags(args);
  const engine = await Engine.load(path, {
    backend: flags.backend,
    threads: flags.threads,
    kvType: flags.kvType,
    nCtx: flags.contextLength,
    memoryBudget: flags.memoryBudget,
    budgetKnob: BUDGET_FLAG,
    onProgress: progress,
    warn: (m) => console.error(m),
  });
  if (progress) process.stderr.write('\r');
  const controller = new AbortController();
  const onSigint = () => controller.abort();
  process.once('SIGINT', onSigint);
  try {
    console.error(`${untrustedText(engine.model.name)} on ${engine.model.backendInfo.description}, loaded in ${(engine.model.loadMs / 1000).toFixed(1)} s`);
    // with --chat the template's own markers become control tokens, the prompt's text never does
    const ids = args.flags.has('chat') ? await encodeChat(engine, [{ role: 'user', content: prompt }]) : engine.tokenizer.encode(prompt);
    if (ids.length >= engine.model.nCtx) throw new UsageError(`the prompt has ${ids.length} tokens; the context holds ${engine.model.nCtx}`);
    const result = await generate(engine.session(0), engine.tokenizer, ids, {
      maxTokens,
      sampling: { temperature, topK, topP, seed },
      // control tokens that do not end generation (FIM markers, <|im_start|>, …) mean nothing in output text
      masks: { every: noControlMask(engine.tokenizer) },
      signal: controller.signal,
      // the text is made of the file's vocabulary: on a terminal, its control characters are shown, not obeyed
      onText: (t) => process.stdout.write(process.stdout.isTTY ? escapeControlCharacters(t, true) : t),
    });
    process.stdout.write('\n');
    const prefillRate = result.prefillTokens / (result.prefillMs / 1000);
    const decodeRate = result.decodeTokens / (result.decodeMs / 1000);
    console.error(
      `[${result.stopReason}] prompt ${result.promptTokens} tokens: prefill ${prefillRate.toFixed(1)} tok/s (${result.prefillMs.toFixed(0)} ms); ` +
        `decode ${result.tokens.length} tokens: ${result.decodeTokens ? decodeRate.toFixed(1) : '-'} tok/s`,
    );
    const experts = offloadLine(engine.model, result.prefillTokens + result.decodeTokens);
    if (experts) console.error(experts);
  } finally {
    process.off('SIGINT', onSigint);
    await engine.dispose();
  }
}

async function evaluate(args: ParsedArgs): Promise<void> {
  const path = modelPath(args);
  const list = stringFlag(args, 'tokens');
  if (!list) throw new UsageError('eval needs --tokens 1,2,3');
  const tokens = list.split(',').map((s) => {
    const n = s.trim() === '' ? NaN : Number(s.trim());
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--tokens: "${s}" is not a token id`);
    return n;
  });
  const greedy = numberFlag(args, 'greedy', 0, (v) => Number.isInteger(v) && v >= 0);
  const maxBinding = args.flags.has('max-binding-bytes') ? numberFlag(args, 'max-binding-bytes', 0, (v) => v > 0) : undefined;
  const flags = engineFlags(args, { kvType: 'f32' });
  const r = await evalModel(path, tokens, greedy, {
    maxBindingBytes: maxBinding,
    backend: flags.backend,
    threads: flags.threads,
    kvType: flags.kvType,
    nCtx: flags.contextLength || undefined,
    memoryBudget: flags.memoryBudget,
  });
  process.stdout.write(`{"logprobs":[${r.logprobs.map((row) => `[${Array.from(row).join(',')}]`).join(',')}],"greedy":[${r.greedy.join(',')}]}\n`);
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    const args = parseArgs(rest, BOOLEAN_FLAGS[command ?? ''] ?? [], VALUE_FLAGS[command ?? ''] ?? []);
    switch (command) {
      case 'info':
        await info(args);
        return 0;
      case 'run':
        await run(args);
        return 0;
      case 'eval':
        await evaluate(args);
        return 0;
      case 'tokenize':
        await tokenizeCommand(modelPath(args), args);
        return 0;
      case 'serve':
        return await serve(serveOptions(args, modelPath(args), engineFlags(args)));
      case undefined:
      case '--help':
      case 'help':
        console.log(USAGE);
        return command === undefined ? 2 : 0;
      default:
        throw new UsageError(`unknown command "${command}"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`moecode: ${e.message}\n${USAGE}`);
      return 2;
    }
    console.error(`moecode: ${escapeControlCharacters((e as Error).message, true)}`);
    return 1; // a CannotRunError of info too: its report is on stdout already
  }
}

/** The `moecode` process: runs the command, then exits once its output has reached stdout's reader. */
export function runCli(argv: string[]): void {
  exitQuietlyOnClosedStdout();
  main(argv).then(
    (code) => exitAfterFlush(code),
    (e) => {
      console.error(e);
      exitAfterFlush(1);
    },
  );
}

if (require.main === module) runCli(process.argv.slice(2));
