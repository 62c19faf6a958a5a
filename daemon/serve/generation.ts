/** What the generating routes share: ids, finish reasons, usage, and cancelling when the client leaves. */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { GenerationOutcome, JobStopReason } from '../scheduler/generation-job.js';
import { contextTooLong } from './errors.js';

export type FinishReason = 'stop' | 'length';

/** `stop` for an end-of-generation token, a stop string or a stop rule; `length` for every limit. */
export function finishReason(r: JobStopReason): FinishReason {
  return r === 'eos' || r === 'stop' ? 'stop' : 'length';
}

export interface Usage {
  prompt_tokens: number;
  completion_tokens: number;
  total_tokens: number;
}

export function usageOf(o: GenerationOutcome): Usage {
  return { prompt_tokens: o.promptTokens, completion_tokens: o.tokens.length, total_tokens: o.promptTokens + o.tokens.length };
}

export function responseId(prefix: string): string {
  return `${prefix}-${randomBytes(12).toString('hex')}`;
}

export function unixSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

/** Aborts when the client goes away before the answer is complete: its generation stops at the next token. */
export function abortOnDisconnect(res: ServerResponse): AbortSignal {
  const ac = new AbortController();
  if (res.destroyed) ac.abort(); // gone already, while the body was read
  else {
    res.on('close', () => {
      if (!res.writableFinished) ac.abort();
    });
  }
  return ac.signal;
}

/** Owner (KV slot and fairness key) of a client's fill-in-the-middle requests. */
export function fimOwner(req: IncomingMessage): string {
  return `fim:${req.socket.remoteAddress ?? 'unknown'}`;
}

/** A prompt of `n` tokens must leave room for at least one generated token. */
export function checkPromptFits(n: number, nCtx: number, param: string): void {
  if (n >= nCtx) throw contextTooLong(`the prompt has ${n} tokens; the model's context holds ${nCtx}`, param);
}
