/**
 * A chat answer from `/v1/chat/completions`, streamed: every non-empty content delta goes to `onText`
 * as it arrives (role-only and empty deltas are skipped), the finish reason and usage are read from
 * whichever chunk carries them. Cancelling answers with the text so far (stopReason 'cancelled'), as
 * the local engine does. A server that sends far more than was asked for is cut off (MAX_ANSWER_CHARS_PER_TOKEN).
 * A stream that ends with neither a finish reason nor `[DONE]` was cut (the server or a proxy closed it
 * mid-answer): that is a StreamCutError, not a finished answer; the text streamed so far stays with the caller.
 */
import type { ChatMessage, GenerationResult, StopReason } from '../protocol.js';
import { RequestAbortedError, StreamCutError } from './errors.js';
import type { RemoteHttpClient, RequestPolicy } from './http-client.js';
import { readStreamEvent, type StreamUsage } from './stream-chunk.js';

export interface RemoteChatRequest {
  messages: ChatMessage[];
  maxTokens: number;
  temperature: number;
  seed?: number;
  onText?: (delta: string) => void;
  signal: AbortSignal;
}

/** Characters an answer may have per requested token; past it the answer ends ('length'), whatever the server keeps sending. */
export const MAX_ANSWER_CHARS_PER_TOKEN = 32;

export function chatStopReason(finishReason: string | undefined): StopReason {
  return finishReason === 'length' ? 'length' : 'eos';
}

export async function streamChat(client: RemoteHttpClient, model: string, req: RemoteChatRequest, policy: RequestPolicy): Promise<GenerationResult> {
  const url = client.endpoint('chat/completions');
  const body: Record<string, unknown> = {
    model,
    messages: req.messages,
    max_tokens: req.maxTokens,
    temperature: req.temperature,
    stream: true,
    stream_options: { include_usage: true },
  };
  if (req.seed !== undefined) body.seed = req.seed;
  const started = performance.now();
  let firstAt: number | undefined;
  let text = '';
  let pieces = 0;
  let finish: string | undefined;
  let usage: StreamUsage | undefined;
  let cancelled = false;
  let finished = false;
  const maxChars = req.maxTokens * MAX_ANSWER_CHARS_PER_TOKEN;
  try {
    for await (const ev of client.stream(url, body, policy, req.signal)) {
      const piece = readStreamEvent(ev, url);
      if (piece.usage) usage = piece.usage;
      if (piece.finishReason) finish = piece.finishReason;
      if (piece.text) {
        firstAt ??= performance.now();
        pieces++;
        const delta = piece.text.slice(0, maxChars - text.length);
        text += delta;
        req.onText?.(delta);
        if (text.length >= maxChars) {
          finish = 'length';
          finished = true;
          break;
        }
      }
      if (piece.done) {
        finished = true;
        break;
      }
    }
  } catch (e) {
    if (!(e instanceof RequestAbortedError && req.signal.aborted)) throw e;
    cancelled = true;
  }
  if (!cancelled && !finished && !finish) throw new StreamCutError(url, text.length);
  const ended = performance.now();
  const first = firstAt ?? ended;
  return {
    text,
    stopReason: cancelled ? 'cancelled' : chatStopReason(finish),
    promptTokens: usage?.promptTokens ?? 0,
    reusedTokens: usage?.cachedTokens ?? 0,
    generatedTokens: usage?.completionTokens ?? pieces,
    prefillMs: Math.round(first - started),
    decodeMs: Math.round(ended - first),
  };
}
