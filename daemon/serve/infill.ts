/**
 * POST /infill in llama-server's shape, so llama.vscode (and llama.vim) work unmodified:
 * `input_prefix`, `input_suffix`, `prompt` (the cursor line before the cursor: it continues the
 * prefix), `input_extra` chunks `{text, filename, time}` (written above the prefix, where the prefix
 * window cuts them first), `n_predict`, `temperature`, `top_k`, `top_p`, `seed`, `stop`,
 * `t_max_predict_ms`, `stream`. Other fields (samplers, cache_prompt, t_max_prompt_ms, n_indent, …) are
 * ignored. The suggestion runs as the editor's inline completions do (completion/complete-fim.ts: stop
 * rules, post filters), so a streamed answer comes as one `content` event when it is done, then the
 * last event with `stop: true` and the timings. `n_predict: 0` (llama.vscode's cache warm-up) answers
 * at once with no content.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { COMPLETION_TIME_BUDGET_MS, completeFim, fimPromptBudget, type FimResult } from '../completion/complete-fim.js';
import { DEFAULT_SETTINGS } from '../protocol.js';
import type { ServeContext } from './context.js';
import { badRequest } from './errors.js';
import { abortOnDisconnect, fimOwner } from './generation.js';
import { sendJson } from './respond.js';
import { SseStream } from './sse.js';
import { headAtLine, MAX_CHARS_PER_TOKEN, tailAtLine } from './text-bounds.js';
import { isObject, optionalBoolean, optionalInteger, optionalNumber, optionalSeed, optionalString, stopStrings, type Body } from './validate.js';

const TOP_K = 40;
const TOP_P = 0.95;
const SEED = 0;

/** The text of `input_extra` chunks, each ending with a newline. */
function extraText(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (!Array.isArray(v)) throw badRequest('input_extra must be an array of {text, filename} objects', 'input_extra');
  return v
    .map((chunk, i) => {
      const param = `input_extra[${i}]`;
      if (!isObject(chunk)) throw badRequest(`${param} must be an object`, param);
      const text = chunk.text ?? '';
      if (typeof text !== 'string') throw badRequest(`${param}.text must be a string`, `${param}.text`);
      return text === '' || text.endsWith('\n') ? text : `${text}\n`;
    })
    .join('');
}

export function parseInfillRequest(body: Body) {
  const nPredict = optionalInteger(body, 'n_predict', -1, 1_000_000);
  const tMaxPredict = optionalNumber(body, 't_max_predict_ms', 0, 3_600_000);
  return {
    extra: extraText(body.input_extra),
    inputPrefix: optionalString(body, 'input_prefix') ?? '',
    inputSuffix: optionalString(body, 'input_suffix') ?? '',
    prompt: optionalString(body, 'prompt') ?? '',
    // -1 (llama-server: until done) and absent: the editor default; the stop rules end a suggestion
    maxTokens: nPredict === undefined || nPredict < 0 ? DEFAULT_SETTINGS.completion.maxTokens : nPredict,
    temperature: optionalNumber(body, 'temperature', 0, 5) ?? DEFAULT_SETTINGS.completion.temperature,
    topK: optionalInteger(body, 'top_k', 0, 1_000_000) ?? TOP_K,
    topP: optionalNumber(body, 'top_p', 0, 1, true) ?? TOP_P,
    seed: optionalSeed(body) ?? SEED,
    stop: stopStrings(body),
    timeBudgetMs: tMaxPredict !== undefined && tMaxPredict > 0 ? tMaxPredict : COMPLETION_TIME_BUDGET_MS,
    stream: optionalBoolean(body, 'stream') ?? false,
  };
}

type Parsed = ReturnType<typeof parseInfillRequest>;

const perToken = (ms: number, n: number) => (n > 0 ? ms / n : 0);
const perSecond = (ms: number, n: number) => (ms > 0 ? (n * 1000) / ms : 0);

/** llama-server's last (or only) /infill answer. */
function finalAnswer(ctx: ServeContext, nCtx: number, p: Parsed, r: FimResult | undefined) {
  const o = r?.outcome;
  const predicted = o?.tokens.length ?? 0;
  const stopType = !o ? 'limit' : o.stopReason === 'eos' ? 'eos' : o.stopReason === 'stop' ? 'word' : 'limit';
  return {
    index: 0,
    content: r?.text ?? '',
    tokens: [],
    id_slot: 0,
    stop: true,
    model: ctx.modelId,
    tokens_predicted: predicted,
    tokens_evaluated: o?.promptTokens ?? 0,
    generation_settings: { n_ctx: nCtx, n_predict: p.maxTokens, temperature: p.temperature, top_k: p.topK, top_p: p.topP, seed: p.seed, stop: p.stop, t_max_predict_ms: p.timeBudgetMs },
    prompt: '',
    has_new_line: (r?.text ?? '').includes('\n'),
    truncated: o?.stopReason === 'context',
    stop_type: stopType,
    stopping_word: '',
    tokens_cached: o?.reusedTokens ?? 0,
    timings: {
      cache_n: o?.reusedTokens ?? 0,
      prompt_n: o?.prefillTokens ?? 0,
      prompt_ms: o?.prefillMs ?? 0,
      prompt_per_token_ms: perToken(o?.prefillMs ?? 0, o?.prefillTokens ?? 0),
      prompt_per_second: perSecond(o?.prefillMs ?? 0, o?.prefillTokens ?? 0),
      predicted_n: predicted,
      predicted_ms: o?.decodeMs ?? 0,
      predicted_per_token_ms: perToken(o?.decodeMs ?? 0, predicted),
      predicted_per_second: perSecond(o?.decodeMs ?? 0, predicted),
    },
  };
}

export async function infill(ctx: ServeContext, req: IncomingMessage, res: ServerResponse, body: Body): Promise<void> {
  const p = parseInfillRequest(body);
  const engine = ctx.model.requireEngine();
  const nCtx = engine.model.nCtx;
  let result: FimResult | undefined;
  if (p.maxTokens > 0) {
    const budget = fimPromptBudget(nCtx, p.maxTokens);
    result = await completeFim(ctx.scheduler, engine, {
      owner: fimOwner(req),
      prefix: tailAtLine(p.extra + p.inputPrefix + p.prompt, budget * MAX_CHARS_PER_TOKEN),
      suffix: headAtLine(p.inputSuffix, budget * MAX_CHARS_PER_TOKEN),
      editorFilters: true,
      maxTokens: p.maxTokens,
      sampling: { temperature: p.temperature, topK: p.topK, topP: p.topP, seed: p.seed },
      stop: p.stop,
      timeBudgetMs: p.timeBudgetMs,
      signal: abortOnDisconnect(res),
    });
    if (result.outcome.stopReason === 'cancelled') return; // the client left
  }
  const answer = finalAnswer(ctx, nCtx, p, result);
  if (!p.stream) {
    sendJson(res, 200, answer);
    return;
  }
  const sse = new SseStream(res);
  if (answer.content !== '') sse.send({ index: 0, content: answer.content, tokens: [], stop: false, id_slot: 0, tokens_predicted: answer.tokens_predicted, tokens_evaluated: answer.tokens_evaluated });
  sse.send({ ...answer, content: '' });
  sse.end(false);
}
