/**
 * `moecode` command line:
 *   moecode info <model.gguf> [--json] [--gpu-budget SIZE]
 *   moecode run  <model.gguf> --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--chat] [--gpu-budget SIZE]
 *   moecode eval <model.gguf> --tokens 1,2,3 [--greedy N] --json [--gpu-budget SIZE]
 *   moecode tokenize <model.gguf> --text TEXT [--json]
 *   moecode serve [model.gguf] [--host H] [--port P] [--api-key KEY] [--max-queue N] [--max-body-mb M]
 * The model may be omitted when MOECODE_MODEL is set or the shipped default model exists.
 */
import { existsSync } from 'node:fs';
import { Engine } from '../engine/engine.js';
import { generate } from '../engine/generate.js';
import { encodeChat } from '../engine/chat-encode.js';
import { openGguf } from '../gguf/gguf-reader.js';
import { createGpu, describeGpu, type GpuInfo } from '../gpu/device.js';
import { readModelConfig } from '../model/hparams.js';
import { formatMemoryPlan, kvCacheBytes, weightBytesByClass } from '../model/memory-plan.js';
import { ByteSizeError, parseByteSize } from '../model/byte-size.js';
import { gpuBudgetFromEnv } from '../gpu/gpu-budget.js';
import { describePlacement, offloadLine } from './placement-info.js';
import { numberFlag, parseArgs, stringFlag, UsageError, type ParsedArgs } from './args.js';
import { evalModel } from './eval.js';
import { countParams, formatCount, tensorTypeCounts } from './model-info.js';
import { noControlMask } from '../engine/token-mask.js';
import { defaultModelPath } from './default-model.js';
import { serve } from '../serve/http-server.js';
import { SERVE_VALUE_FLAGS, serveOptions } from '../serve/options.js';
import { backendChoice, type BackendChoice } from '../engine/backend-choice.js';
import { describeBackendPlan } from './backend-plan.js';
import { tokenizeCommand } from './tokenize.js';
import { exitAfterFlush, exitQuietlyOnClosedStdout } from './exit-after-flush.js';
import { escapeControlCharacters, terminalSafeJson, untrustedText } from '../gguf/untrusted-text.js';

export { exitAfterFlush } from './exit-after-flush.js';

const USAGE = `usage:
  moecode info <model.gguf> [--json] [--backend auto|gpu|cpu] [--threads N] [--gpu-budget SIZE]
  moecode run  <model.gguf> --prompt TEXT [--max-tokens N] [--temperature T] [--top-k K] [--top-p P] [--seed S] [--chat] [--backend B] [--threads N] [--gpu-budget SIZE]
  moecode eval <model.gguf> --tokens 1,2,3 [--greedy N] --json [--backend B] [--threads N] [--gpu-budget SIZE]
  moecode tokenize <model.gguf> --text TEXT [--json]   (token ids as llama.cpp gives them; reads no weights)
  moecode serve [model.gguf] [--host 127.0.0.1] [--port 8012] [--api-key KEY] [--max-queue 8] [--max-body-mb 10] [--backend B] [--threads N] [--gpu-budget SIZE]
        an OpenAI-compatible HTTP server (/v1/chat/completions, /v1/completions, /infill, /v1/models, /health)
The model path may be left out when MOECODE_MODEL is set or the default model is installed.
--backend (default: MOECODE_BACKEND, else auto): auto runs a hardware GPU through WebGPU and the CPU backend
(WebAssembly SIMD) when there is none or only a software adapter. --threads: CPU backend threads (default:
physical cores). --gpu-budget (default: MOECODE_GPU_BUDGET, else the adapter's limit less a reserve; bytes,
512MiB, 6GiB): GPU memory for the model on the GPU backend; the experts that do not fit live in host memory
and run on the CPU or are uploaded when a batch needs them.`;

const BOOLEAN_FLAGS: Record<string, string[]> = { info: ['json'], run: ['chat'], eval: ['json'], tokenize: ['json'], serve: [] };
const BACKEND_FLAGS = ['backend', 'threads', 'gpu-budget'];
const VALUE_FLAGS: Record<string, string[]> = {
  info: [...BACKEND_FLAGS],
  run: ['prompt', 'max-tokens', 'temperature', 'top-k', 'top-p', 'seed', ...BACKEND_FLAGS],
  eval: ['tokens', 'greedy', 'max-binding-bytes', ...BACKEND_FLAGS],
  tokenize: ['text'],
  serve: [...SERVE_VALUE_FLAGS, ...BACKEND_FLAGS],
};

/** --backend (else MOECODE_BACKEND, else auto), --threads (0: physical cores) and --gpu-budget (bytes; absent: undefined). */
function backendFlags(args: ParsedArgs): { backend: BackendChoice; threads: number; gpuBudgetBytes?: number } {
  let backend: BackendChoice;
  let gpuBudgetBytes: number | undefined;
  try {
    backend = backendChoice(stringFlag(args, 'backend'));
    const budget = stringFlag(args, 'gpu-budget');
    if (budget !== undefined) gpuBudgetBytes = parseByteSize(budget, '--gpu-budget');
    else gpuBudgetFromEnv(); // a malformed MOECODE_GPU_BUDGET is a usage error too, before anything loads
  } catch (e) {
    if (e instanceof ByteSizeError || e instanceof RangeError) throw new UsageError(e.message);
    throw e;
  }
  if (gpuBudgetBytes === 0) throw new UsageError('--gpu-budget: 0 bytes cannot hold a model');
  return { backend, threads: numberFlag(args, 'threads', 0, (v) => Number.isInteger(v) && v >= 0 && v <= 256), gpuBudgetBytes };
}

function modelPath(args: ParsedArgs): string {
  const p = args.positional[0] ?? process.env.MOECODE_MODEL ?? defaultModelPath();
  if (!p) throw new UsageError('no model given, MOECODE_MODEL is not set and no default model is installed');
  if (!existsSync(p)) throw new UsageError(`model file not found: ${p}`);
  return p;
}

async function info(args: ParsedArgs): Promise<void> {
  const path = modelPath(args);
  const file = await openGguf(path);
  try {
    const cfg = readModelConfig(file);
    const params = countParams(file, cfg);
    const types = tensorTypeCounts(file);
    const { backend, threads, gpuBudgetBytes } = backendFlags(args);
    let gpu: GpuInfo | undefined;
    let maxBinding = 0;
    if (backend !== 'cpu') {
      try {
        const g = await createGpu();
        gpu = g.info;
        maxBinding = g.maxBindingBytes;
        g.destroy();
      } catch {
        gpu = undefined;
      }
    }
    const runsOn = describeBackendPlan(backend, gpu, threads);
    const { byClass, weights, largest } = weightBytesByClass(file);
    const nCtx = Math.min(4096, cfg.n_ctx_train || 4096);
    const kv = kvCacheBytes(cfg.n_layer, 1, nCtx, cfg.n_head_kv * cfg.n_embd_head_k, cfg.n_head_kv * cfg.n_embd_head_v);
    const plan = {
      byClass,
      weights,
      kvCache: kv,
      activations: 0,
      total: weights + kv,
      largestTensor: largest,
      maxBindingBytes: maxBinding,
      maxBufferSize: gpu?.maxBufferSize ?? 0,
    };
    // where the weights would live on the GPU backend under the budget (a budget too small is said, not thrown)
    const placement = backend === 'cpu' ? undefined : describePlacement(file, cfg, gpu, maxBinding, gpuBudgetBytes);
    if (args.flags.has('json')) {
      const p = placement && ('error' in placement ? { error: placement.error } : placement.placement);
      console.log(terminalSafeJson(JSON.stringify({ path, gguf_version: file.version, config: cfg, params, tensor_types: types, memory: plan, gpu: gpu ?? null, backend: runsOn, placement: p ?? null }, null, 2)));
      return;
    }
    // the name comes from the file: no control character of it reaches the terminal
    console.log(`${untrustedText(cfg.name)}  (${escapeControlCharacters(path)})`);
    console.log(`architecture   ${cfg.arch}, GGUF v${file.version}`);
    console.log(
      `layers ${cfg.n_layer}, n_embd ${cfg.n_embd}, heads ${cfg.n_head} (kv ${cfg.n_head_kv}), head dim ${cfg.n_embd_head_k}, context ${cfg.n_ctx_train}, vocab ${cfg.n_vocab}`,
    );
    if (cfg.n_expert > 0) {
      console.log(`experts        ${cfg.n_expert}, ${cfg.n_expert_used} used per token, width ${cfg.n_ff_exp}${cfg.n_ff_shexp ? `, shared expert width ${cfg.n_ff_shexp}` : ''}`);
    } else console.log(`dense FFN      width ${cfg.n_ff}`);
    console.log(`parameters     ${formatCount(params.total)} total, ${formatCount(params.activePerToken)} active per token`);
    console.log(`tensor types   ${escapeControlCharacters(Object.entries(types).map(([k, v]) => `${k} x${v}`).join(', '))}`);
    console.log(`gpu            ${gpu ? describeGpu(gpu) : backend === 'cpu' ? 'not probed (--backend cpu)' : 'no WebGPU adapter available'}`);
    console.log(`backend        ${runsOn.description}`);
    console.log(formatMemoryPlan(plan, gpu));
    if (placement) console.log('error' in placement ? `placement      ${placement.error}` : placement.text);
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
  const engine = await Engine.load(path, { ...backendFlags(args), onProgress: progress, warn: (m) => console.error(m) });
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
    const experts = offloadLine(engine.model, result.promptTokens + result.tokens.length);
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
  const r = await evalModel(path, tokens, greedy, { maxBindingBytes: maxBinding, ...backendFlags(args) });
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
        return await serve(serveOptions(args, modelPath(args), backendFlags(args)));
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
    return 1;
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
