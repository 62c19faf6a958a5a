/**
 * POST /v1/chat/completions: the conversation rendered with the model's chat template (the daemon's
 * chat prompt: a default system message when there is none, oldest turns dropped to fit), generated as
 * a chat-class job, answered whole or streamed as `chat.completion.chunk` events.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { fitChatPrompt } from '../features/chat-prompt.js';
import { promptBudget } from '../features/chat.js';
import { chatGenerationRequest, chatStopStrings } from '../features/chat-generation.js';
import { DEFAULT_SETTINGS } from '../protocol.js';
import { dropTurnsOverChars, parseChatMessages } from './chat-messages.js';
import type { ServeContext } from './context.js';
import { badRequest } from './errors.js';
import { abortOnDisconnect, finishReason, responseId, unixSeconds, usageOf } from './generation.js';
import { sendJson } from './respond.js';
import { SseStream } from './sse.js';
import { MAX_CHARS_PER_TOKEN } from './text-bounds.js';
import {
  checkModelField,
  expectSingleChoice,
  includeUsage,
  optionalBoolean,
  optionalInteger,
  optionalNumber,
  optionalSeed,
  stopStrings,
  type Body,
} from './validate.js';

/**
 * `max_completion_tokens` or `max_tokens`: at least 1, or -1 (llama-server's "until the context is
 * full", which llama.vscode sends); absent: the daemon's chat default.
 */
function maxTokens(body: Body): number | undefined {
  const name = body.max_completion_tokens !== undefined && body.max_completion_tokens !== null ? 'max_completion_tokens' : 'max_tokens';
  const v = optionalInteger(body, name, -1, 1_000_000);
  if (v === 0) throw badRequest(`${name} must be at least 1 (or -1: until the context is full)`, name);
  return v === -1 ? Number.MAX_SAFE_INTEGER : v;
}

export function parseChatCompletionRequest(body: Body) {
  checkModelField(body);
  expectSingleChoice(body, 'n');
  if (body.logprobs === true) throw badRequest('logprobs are not supported', 'logprobs');
  const format = body.response_format;
  if (format !== undefined && format !== null && !(typeof format === 'object' && (format as { type?: unknown }).type === 'text')) {
    throw badRequest('only response_format {"type": "text"} is supported', 'response_format');
  }
  return {
    messages: parseChatMessages(body.messages),
    maxTokens: maxTokens(body),
    temperature: optionalNumber(body, 'temperature', 0, 2),
    topP: optionalNumber(body, 'top_p', 0, 1, true),
    seed: optionalSeed(body),
    stop: stopStrings(body),
    stream: optionalBoolean(body, 'stream') ?? false,
    includeUsage: includeUsage(body),
  };
}

export async function chatCompletions(ctx: ServeContext, _req: IncomingMessage, res: ServerResponse, body: Body): Promise<void> {
  const p = parseChatCompletionRequest(body);
  const engine = ctx.model.requireEngine();
  const nCtx = engine.model.nCtx;
  const maxTokens = p.maxTokens ?? DEFAULT_SETTINGS.chat.maxTokens;
  const budget = promptBudget(nCtx, maxTokens);
  const messages = dropTurnsOverChars(p.messages, budget * MAX_CHARS_PER_TOKEN);
  const { ids } = await fitChatPrompt(engine, messages, [], budget);
  const id = responseId('chatcmpl');
  const created = unixSeconds();
  const chunk = (delta: Record<string, string>, finish: string | null) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: ctx.modelId,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    ...(p.includeUsage ? { usage: null } : {}),
  });
  const sse = p.stream ? new SseStream(res) : undefined;
  const opening = () => {
    if (sse && !sse.hasStarted) sse.send(chunk({ role: 'assistant', content: '' }, null));
  };
  const outcome = await ctx.scheduler.submit(
    chatGenerationRequest(engine, {
      prompt: ids,
      maxTokens,
      temperature: p.temperature ?? DEFAULT_SETTINGS.chat.temperature,
      topP: p.topP,
      seed: p.seed,
      stop: [...chatStopStrings(engine), ...p.stop],
      onText: sse
        ? (delta) => {
            opening();
            sse.send(chunk({ content: delta }, null));
          }
        : undefined,
      signal: abortOnDisconnect(res),
    }),
  );
  if (outcome.stopReason === 'cancelled') return; // the client left
  const finish = finishReason(outcome.stopReason);
  if (!sse) {
    sendJson(res, 200, {
      id,
      object: 'chat.completion',
      created,
      model: ctx.modelId,
      choices: [{ index: 0, message: { role: 'assistant', content: outcome.text, refusal: null }, logprobs: null, finish_reason: finish }],
      usage: usageOf(outcome),
    });
    return;
  }
  opening();
  sse.send(chunk({}, finish));
  if (p.includeUsage) sse.send({ id, object: 'chat.completion.chunk', created, model: ctx.modelId, choices: [], usage: usageOf(outcome) });
  sse.end(true);
}
