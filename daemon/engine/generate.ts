/**
 * Streaming generation on a session: prefill, then decode token by token with stop conditions (end of
 * generation tokens, stop strings, max tokens, context full) and cancellation between tokens.
 */
import type { SamplingParams } from '../gpu/graph-runner.js';
import type { Session } from './session.js';
import { StreamDecoder } from './tokenizer/stream-decoder.js';
import type { Tokenizer } from './tokenizer/tokenizer.js';

export type StopReason = 'eos' | 'stop' | 'length' | 'context' | 'cancelled';

export interface GenerateOptions {
  maxTokens: number;
  sampling: SamplingParams;
  stop?: readonly string[];
  signal?: AbortSignal;
  /** Called with each new piece of text as soon as it is certain not to be part of a stop string. */
  onText?: (text: string) => void;
  /** Checked after every token; return true to stop (e.g. a time budget or a line filter). */
  shouldStop?: (textSoFar: string) => boolean;
}

export interface GenerateResult {
  text: string;
  tokens: number[];
  stopReason: StopReason;
  promptTokens: number;
  /** Prompt tokens evaluated (the rest came from the KV cache). */
  prefillTokens: number;
  prefillMs: number;
  decodeMs: number;
  /** Tokens decoded after the first one. */
  decodeTokens: number;
}

/** Length of the longest suffix of `text` that is a proper prefix of one of the stop strings. */
function heldBackLength(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const s of stops) {
    for (let n = Math.min(s.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(s.slice(0, n))) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

export async function generate(session: Session, tokenizer: Tokenizer, prompt: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  const stops = (opts.stop ?? []).filter((s) => s.length > 0);
  const decoder = new StreamDecoder(tokenizer);
  const tokens: number[] = [];
  let text = '';
  let emitted = 0;
  let stopReason: StopReason = 'length';
  const emit = (upTo: number) => {
    if (upTo > emitted) {
      opts.onText?.(text.slice(emitted, upTo));
      emitted = upTo;
    }
  };
  const t0 = performance.now();
  if (opts.signal?.aborted) {
    return { text: '', tokens, stopReason: 'cancelled', promptTokens: prompt.length, prefillTokens: 0, prefillMs: 0, decodeMs: 0, decodeTokens: 0 };
  }
  const { token: first, stats } = await session.prefill(prompt, opts.sampling);
  const t1 = performance.now();
  let next = first;
  while (true) {
    if (tokenizer.eogIds.has(next)) {
      stopReason = 'eos';
      break;
    }
    tokens.push(next);
    text += decoder.push(next);
    const hit = stops.map((s) => text.indexOf(s, Math.max(0, emitted - s.length))).filter((i) => i >= 0);
    if (hit.length) {
      text = text.slice(0, Math.min(...hit));
      stopReason = 'stop';
      break;
    }
    emit(text.length - heldBackLength(text, stops));
    if (opts.shouldStop?.(text)) {
      stopReason = 'stop';
      break;
    }
    if (tokens.length >= opts.maxTokens) {
      stopReason = 'length';
      break;
    }
    if (opts.signal?.aborted) {
      stopReason = 'cancelled';
      break;
    }
    if (!session.fits(1)) {
      stopReason = 'context';
      break;
    }
    next = await session.decode(next, opts.sampling);
  }
  if (stopReason !== 'stop') text += decoder.flush();
  emit(text.length);
  const t2 = performance.now();
  return {
    text,
    tokens,
    stopReason,
    promptTokens: prompt.length,
    prefillTokens: stats.evaluated,
    prefillMs: t1 - t0,
    decodeMs: t2 - t1,
    decodeTokens: Math.max(0, tokens.length - 1),
  };
}
