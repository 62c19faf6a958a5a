/**
 * Streaming generation on a session: prefill, then decode token by token with stop conditions (end of
 * generation tokens, stop strings, max tokens, context full) and cancellation between tokens.
 */
import type { SamplingParams } from '../gpu/graph-runner.js';
import type { Session } from './session.js';
import { stepMasks, type GenerationMasks, type TokenMask } from './token-mask.js';
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
  /** Tokens the first and every sampled token may be (see token-mask.ts); default: any. */
  masks?: GenerationMasks;
}

/** `sampling` with the mask of the next sampled token (no copy when there is none). */
export function withMask(sampling: SamplingParams, mask: TokenMask | undefined): SamplingParams {
  return mask === undefined ? sampling : { ...sampling, mask };
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
export function heldBackLength(text: string, stops: readonly string[]): number {
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

/**
 * The text side of a generation, shared by generate() and the daemon's scheduler (which drives the
 * session itself, token by token, so it can preempt): detokenises sampled tokens as a stream, finds
 * stop strings, and emits text as soon as it cannot be part of one.
 */
export class GenerationText {
  private readonly stops: readonly string[];
  private readonly decoder: StreamDecoder;
  /** Generated tokens (end-of-generation tokens are not added). */
  readonly tokens: number[] = [];
  private current = '';
  private emitted = 0;

  constructor(
    private readonly tokenizer: Tokenizer,
    stop: readonly string[] | undefined,
    private readonly onText?: (text: string) => void,
  ) {
    this.stops = (stop ?? []).filter((s) => s.length > 0);
    this.decoder = new StreamDecoder(tokenizer);
  }

  /** Text so far (cut before a stop string once one is found). */
  get text(): string {
    return this.current;
  }

  /** Adds a sampled token: 'eos' for an end-of-generation token, 'stop' when a stop string completes. */
  push(token: number): 'eos' | 'stop' | undefined {
    if (this.tokenizer.eogIds.has(token)) return 'eos';
    this.tokens.push(token);
    this.current += this.decoder.push(token);
    const hit = this.stops.map((s) => this.current.indexOf(s, Math.max(0, this.emitted - s.length))).filter((i) => i >= 0);
    if (hit.length) {
      this.current = this.current.slice(0, Math.min(...hit));
      return 'stop';
    }
    this.emit(this.current.length - heldBackLength(this.current, this.stops));
    return undefined;
  }

  /** Ends the stream: flushes held bytes (unless stopped) and emits what is still held back. */
  finish(stopReason: StopReason): string {
    if (stopReason !== 'stop') this.current += this.decoder.flush();
    this.emit(this.current.length);
    return this.current;
  }

  private emit(upTo: number): void {
    if (upTo > this.emitted) {
      this.onText?.(this.current.slice(this.emitted, upTo));
      this.emitted = upTo;
    }
  }
}

export async function generate(session: Session, tokenizer: Tokenizer, prompt: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  const out = new GenerationText(tokenizer, opts.stop, opts.onText);
  const tokens = out.tokens;
  let stopReason: StopReason = 'length';
  const t0 = performance.now();
  if (opts.signal?.aborted) {
    return { text: '', tokens, stopReason: 'cancelled', promptTokens: prompt.length, prefillTokens: 0, prefillMs: 0, decodeMs: 0, decodeTokens: 0 };
  }
  const maskFor = stepMasks(opts.masks ?? {}, tokenizer.vocabSize);
  const { token: first, stats } = await session.prefill(prompt, withMask(opts.sampling, maskFor(0)));
  const t1 = performance.now();
  let next = first;
  while (true) {
    const ended = out.push(next);
    if (ended) {
      stopReason = ended;
      break;
    }
    if (opts.shouldStop?.(out.text)) {
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
    next = await session.decode(next, withMask(opts.sampling, maskFor(tokens.length)));
  }
  const text = out.finish(stopReason);
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
