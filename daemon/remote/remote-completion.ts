/**
 * An inline completion from a remote server, streamed so the daemon's stop rules can end it early:
 * - a known family: its FIM prompt as text to `/v1/completions`;
 * - an unknown family: llama-server's `/infill` (the server applies the model's own FIM tokens), else
 *   `/v1/completions` with the OpenAI `suffix` field.
 * The text is cut at the family's stop strings; after every piece the daemon's stop rules
 * (`shouldStop`) may end it, which closes the connection so the server stops generating. The prefix
 * and suffix sent are windows of the document that start and end at line boundaries.
 */
import type { StopReason } from '../protocol.js';
import { RequestAbortedError, StreamCutError } from './errors.js';
import { MAX_STOP_STRINGS, stopStringAt, type FimFamily } from './fim-families.js';
import type { RemoteHttpClient, RequestPolicy } from './http-client.js';
import { readStreamEvent } from './stream-chunk.js';

/** Characters of the document before the cursor sent (about 4k tokens of code). */
export const REMOTE_PREFIX_CHARS = 16_000;
/** Characters after the cursor sent. */
export const REMOTE_SUFFIX_CHARS = 4_000;
/** Most milliseconds one suggestion may take; past it the text so far is the answer. */
export const REMOTE_COMPLETION_DEADLINE_MS = 10_000;

export type FimRoute = { kind: 'family'; family: FimFamily } | { kind: 'infill' } | { kind: 'suffix' };

export interface RemoteCompletionRequest {
  prefix: string;
  suffix: string;
  maxTokens: number;
  temperature: number;
  /** The daemon's stop rules, asked after every piece with the text so far. */
  shouldStop: (text: string) => boolean;
  signal: AbortSignal;
}

export interface RemoteCompletionResult {
  text: string;
  stopReason: StopReason;
}

/** The last `max` characters of `prefix`, starting at a line start. */
export function prefixWindow(prefix: string, max = REMOTE_PREFIX_CHARS): string {
  if (prefix.length <= max) return prefix;
  const from = prefix.length - max;
  const nl = prefix.indexOf('\n', from);
  return nl < 0 ? prefix.slice(from) : prefix.slice(nl + 1);
}

/** The first `max` characters of `suffix`, ending at a line end. */
export function suffixWindow(suffix: string, max = REMOTE_SUFFIX_CHARS): string {
  if (suffix.length <= max) return suffix;
  const nl = suffix.lastIndexOf('\n', max);
  return nl < 0 ? suffix.slice(0, max) : suffix.slice(0, nl + 1);
}

/** The URL, body and stop strings of the request for `route`. */
export function completionRequest(client: RemoteHttpClient, route: FimRoute, model: string, req: RemoteCompletionRequest): { url: string; body: Record<string, unknown>; stops: readonly string[] } {
  const prefix = prefixWindow(req.prefix);
  const suffix = suffixWindow(req.suffix);
  const sampling = { temperature: req.temperature, stream: true };
  switch (route.kind) {
    case 'family':
      return {
        url: client.endpoint('completions'),
        body: { model, prompt: route.family.render(prefix, suffix), max_tokens: req.maxTokens, stop: route.family.stop.slice(0, MAX_STOP_STRINGS), ...sampling },
        stops: route.family.stop,
      };
    case 'infill':
      return { url: client.rootEndpoint('infill'), body: { input_prefix: prefix, input_suffix: suffix, n_predict: req.maxTokens, cache_prompt: true, ...sampling }, stops: [] };
    case 'suffix':
      return { url: client.endpoint('completions'), body: { model, prompt: prefix, suffix, max_tokens: req.maxTokens, ...sampling }, stops: [] };
  }
}

/** Streams the completion; a cancelled request or the deadline gives the text so far ('cancelled' / 'time'). */
export async function streamCompletion(
  client: RemoteHttpClient,
  request: { url: string; body: Record<string, unknown>; stops: readonly string[] },
  req: RemoteCompletionRequest,
  policy: RequestPolicy,
): Promise<RemoteCompletionResult> {
  const ac = new AbortController();
  let pastDeadline = false;
  const deadline = setTimeout(() => {
    pastDeadline = true;
    ac.abort();
  }, REMOTE_COMPLETION_DEADLINE_MS);
  const onAbort = () => ac.abort();
  req.signal.addEventListener('abort', onAbort, { once: true });
  if (req.signal.aborted) ac.abort();
  let text = '';
  let stopReason: StopReason = 'eos';
  let finished = false;
  try {
    for await (const ev of client.stream(request.url, request.body, policy, ac.signal)) {
      const piece = readStreamEvent(ev, request.url);
      if (piece.text) {
        text += piece.text;
        const cut = stopStringAt(text, request.stops);
        if (cut !== undefined) {
          text = text.slice(0, cut);
          stopReason = 'stop';
          finished = true;
          break;
        }
        if (req.shouldStop(text)) {
          stopReason = 'stop';
          finished = true;
          break;
        }
      }
      if (piece.finishReason) {
        stopReason = piece.finishReason === 'length' ? 'length' : 'eos';
        finished = true;
      }
      if (piece.done) {
        finished = true;
        break;
      }
    }
    // a stream closed mid-answer is not a suggestion: its last line may be half a token
    if (!finished) throw new StreamCutError(request.url, text.length);
    return { text, stopReason };
  } catch (e) {
    if (e instanceof RequestAbortedError) {
      if (req.signal.aborted) return { text, stopReason: 'cancelled' };
      if (pastDeadline) return { text, stopReason: 'time' };
    }
    throw e;
  } finally {
    clearTimeout(deadline);
    req.signal.removeEventListener('abort', onAbort);
  }
}
