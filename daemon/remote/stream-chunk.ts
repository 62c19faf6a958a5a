/**
 * One streamed event of an OpenAI-compatible server, read the same way whatever the server:
 * - chat chunks (`choices[0].delta.content`), where the first chunk may carry only the role, deltas
 *   may be empty, absent or null (vLLM, SGLang repeats `role: null` or the role in every delta);
 * - text-completion chunks (`choices[0].text`);
 * - llama-server's own format on /infill and /completion (`content`, `stop: true` on the last one);
 * - `finish_reason` on the last content chunk or on a chunk of its own with an empty delta;
 * - usage on the last chunk, alongside the finish or on a chunk whose `choices` is empty, or `null`
 *   on every chunk (SGLang); `[DONE]` at the end, or not (llama-server's own endpoints);
 * - an `error` object in a data line, or an `event: error`, mid-stream.
 */
import { RemoteHttpError, RemoteProtocolError } from './errors.js';
import type { SseEvent } from './sse.js';

export interface StreamUsage {
  promptTokens?: number;
  completionTokens?: number;
  /** Prompt tokens the server found in its cache. */
  cachedTokens?: number;
}

export interface StreamPiece {
  /** Text to append ('' for role-only, empty or usage-only chunks). */
  text: string;
  /** The server's reason for finishing ('stop', 'length', …), on the chunk that has it. */
  finishReason?: string;
  usage?: StreamUsage;
  /** `[DONE]`, or llama-server's `stop: true`: nothing more will come. */
  done: boolean;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const count = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? v : undefined);

export function readStreamEvent(ev: SseEvent, url: string): StreamPiece {
  const data = ev.data.trim();
  if (data === '[DONE]') return { text: '', done: true };
  let j: unknown;
  try {
    j = JSON.parse(data);
  } catch {
    throw new RemoteProtocolError(url, `a streamed event is not JSON: ${data.slice(0, 80)}`);
  }
  if (!isObject(j)) throw new RemoteProtocolError(url, `a streamed event is not a JSON object: ${data.slice(0, 80)}`);
  if (j.error !== undefined && j.error !== null) throw streamedError(j.error, url);
  if (ev.event === 'error') throw streamedError(j, url);

  const piece: StreamPiece = { text: '', done: false };
  const usage = readUsage(j.usage);
  if (usage) piece.usage = usage;
  if (Array.isArray(j.choices)) {
    // one choice is asked for; a server may still number it
    const choice = j.choices.find((c) => isObject(c) && (c.index === undefined || c.index === 0));
    if (isObject(choice)) {
      const delta = choice.delta;
      if (isObject(delta) && typeof delta.content === 'string') piece.text = delta.content;
      else if (typeof choice.text === 'string') piece.text = choice.text;
      if (typeof choice.finish_reason === 'string' && choice.finish_reason !== '') piece.finishReason = choice.finish_reason;
    }
    return piece;
  }
  // llama-server's own format (/infill, /completion)
  if (typeof j.content === 'string') piece.text = j.content;
  if (j.stop === true) {
    piece.done = true;
    const type = typeof j.stop_type === 'string' ? j.stop_type : undefined;
    piece.finishReason = type === 'limit' ? 'length' : 'stop';
    const timings = isObject(j.timings) ? j.timings : undefined;
    const tokens = { promptTokens: count(j.tokens_evaluated), completionTokens: count(j.tokens_predicted) ?? count(timings?.predicted_n) };
    if (!piece.usage && (tokens.promptTokens !== undefined || tokens.completionTokens !== undefined)) piece.usage = tokens;
  }
  return piece;
}

function readUsage(u: unknown): StreamUsage | undefined {
  if (!isObject(u)) return undefined;
  const details = isObject(u.prompt_tokens_details) ? u.prompt_tokens_details : undefined;
  const out: StreamUsage = { promptTokens: count(u.prompt_tokens), completionTokens: count(u.completion_tokens), cachedTokens: count(details?.cached_tokens) };
  return out.promptTokens === undefined && out.completionTokens === undefined ? undefined : out;
}

function streamedError(e: unknown, url: string): RemoteHttpError {
  const o = isObject(e) ? e : {};
  const message = typeof e === 'string' ? e : typeof o.message === 'string' ? o.message : JSON.stringify(e).slice(0, 200);
  const code = typeof o.code === 'number' && o.code >= 400 && o.code < 600 ? o.code : 500;
  return new RemoteHttpError(url, code, `error in the stream: ${message}`);
}
