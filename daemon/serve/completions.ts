/**
 * POST /v1/completions. Without `suffix`: the prompt as text (special-token text such as
 * `<|fim_prefix|>` is read as the token, as llama.cpp and vLLM do, so a client may write its own FIM
 * template), generated as a chat-class job. With `suffix`: fill-in-the-middle with the model's own FIM
 * tokens and token healing (completion/complete-fim.ts), as a completion-class job that goes ahead of
 * chats; the text is raw (only `stop`, `max_tokens` and end of generation end it). Answered whole or
 * streamed as `text_completion` events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { completeFim, fimPromptBudget } from '../completion/complete-fim.js';
import type { Engine } from '../engine/engine.js';
import { chatGenerationRequest } from '../features/chat-generation.js';
import { DEFAULT_SETTINGS } from '../protocol.js';
import type { GenerationOutcome } from '../scheduler/generation-job.js';
import type { ServeContext } from './context.js';
import { badRequest, contextTooLong } from './errors.js';
import { abortOnDisconnect, checkPromptFits, fimOwner, finishReason, responseId, unixSeconds, usageOf } from './generation.js';
import { sendJson } from './respond.js';
import { SseStream } from './sse.js';
import { headAtLine, MAX_CHARS_PER_TOKEN, tailAtLine } from './text-bounds.js';
import {
  checkModelField,
  expectSingleChoice,
  includeUsage,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalSeed,
  optionalString,
  stopStrings,
  type Body,
} from './validate.js';

/** OpenAI's default `max_tokens` for this route. */
export const DEFAULT_COMPLETION_MAX_TOKENS = 16;
const FIM_TOP_K = 40;
const FIM_TOP_P = 0.95;
const FIM_SEED = 0;

function promptText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && v.length === 1 && typeof v[0] === 'string') return v[0];
  throw badRequest('prompt must be a string (or an array of one string)', 'prompt');
}

export function parseCompletionRequest(body: Body) {
  checkModelField(body);
  expectSingleChoice(body, 'n');
  expectSingleChoice(body, 'best_of');
  if (body.echo === true) throw badRequest('echo is not supported', 'echo');
  if (body.logprobs !== undefined && body.logprobs !== null && body.logprobs !== 0) throw badRequest('logprobs are not supported', 'logprobs');
  return {
    prompt: promptText(body.prompt),
    suffix: optionalString(body, 'suffix'),
    maxTokens: optionalInteger(body, 'max_tokens', 1, 1_000_000) ?? DEFAULT_COMPLETION_MAX_TOKENS,
    temperature: optionalNumber(body, 'temperature', 0, 2),
    topP: optionalNumber(body, 'top_p', 0, 1, true),
    seed: optionalSeed(body),
    stop: stopStrings(body),
    stream: optionalBoolean(body, 'stream') ?? false,
    includeUsage: includeUsage(body),
  };
}

type Parsed = ReturnType<typeof parseCompletionRequest>;

function generate(ctx: ServeContext, req: IncomingMessage, engine: Engine, p: Parsed, onText: ((d: string) => void) | undefined, signal: AbortSignal): Promise<GenerationOutcome & { text: string }> {
  const nCtx = engine.model.nCtx;
  if (p.suffix !== undefined) {
    const budget = fimPromptBudget(nCtx, p.maxTokens);
    return completeFim(ctx.scheduler, engine, {
      owner: fimOwner(req),
      prefix: tailAtLine(p.prompt, budget * MAX_CHARS_PER_TOKEN),
      suffix: headAtLine(p.suffix, budget * MAX_CHARS_PER_TOKEN),
      editorFilters: false,
      maxTokens: p.maxTokens,
      sampling: { temperature: p.temperature ?? DEFAULT_SETTINGS.completion.temperature, topK: FIM_TOP_K, topP: p.topP ?? FIM_TOP_P, seed: p.seed ?? FIM_SEED },
      stop: p.stop,
      onText,
      signal,
    }).then((r) => ({ ...r.outcome, text: r.text }));
  }
  if (p.prompt.length > nCtx * MAX_CHARS_PER_TOKEN) throw contextTooLong(`the prompt has ${p.prompt.length} characters; the model's context cannot hold it`, 'prompt');
  const ids = engine.tokenizer.encode(p.prompt, { parseSpecial: true });
  if (ids.length === 0) throw badRequest('prompt is empty', 'prompt');
  checkPromptFits(ids.length, nCtx, 'prompt');
  return ctx.scheduler.submit(
    chatGenerationRequest(engine, {
      prompt: ids,
      maxTokens: p.maxTokens,
      temperature: p.temperature ?? DEFAULT_SETTINGS.chat.temperature,
      topP: p.topP,
      seed: p.seed,
      stop: p.stop,
      onText,
      signal,
    }),
  );
}

export async function completions(ctx: ServeContext, req: IncomingMessage, res: ServerResponse, body: Body): Promise<void> {
  const p = parseCompletionRequest(body);
  const engine = ctx.model.requireEngine();
  const id = responseId('cmpl');
  const created = unixSeconds();
  const chunk = (text: string, finish: string | null) => ({
    id,
    object: 'text_completion',
    created,
    model: ctx.modelId,
    choices: [{ text, index: 0, logprobs: null, finish_reason: finish }],
    ...(p.includeUsage ? { usage: null } : {}),
  });
  const sse = p.stream ? new SseStream(res) : undefined;
  const outcome = await generate(ctx, req, engine, p, sse ? (delta) => sse.send(chunk(delta, null)) : undefined, abortOnDisconnect(res));
  if (outcome.stopReason === 'cancelled') return; // the client left
  const finish = finishReason(outcome.stopReason);
  if (!sse) {
    sendJson(res, 200, { id, object: 'text_completion', created, model: ctx.modelId, choices: [{ text: outcome.text, index: 0, logprobs: null, finish_reason: finish }], usage: usageOf(outcome) });
    return;
  }
  sse.send(chunk('', finish));
  if (p.includeUsage) sse.send({ id, object: 'text_completion', created, model: ctx.modelId, choices: [], usage: usageOf(outcome) });
  sse.end(true);
}
