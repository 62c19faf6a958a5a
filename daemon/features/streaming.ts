/**
 * Runs a chat-class generation (chat, explain) through the scheduler: streams its text as
 * `moecode/stream/didAppend` notifications when the request named a streamId, stops on
 * `$/cancelRequest` (answering at once with the text so far, stopReason 'cancelled'), and returns the
 * whole answer.
 */
import type { CancellationToken } from 'vscode-languageserver/node';
import type { Engine } from '../engine/engine.js';
import { stopStringsForTemplate } from '../engine/chat-template.js';
import { StreamAppendNotification, type GenerationResult } from '../protocol.js';
import type { ServerContext } from './feature.js';

export interface StreamedGeneration {
  prompt: number[];
  maxTokens: number;
  temperature: number;
  seed?: number;
  stop: string[];
  streamId?: string | number;
}

/** Stop strings of the model's chat template (its end-of-turn marker and EOS text). */
export function chatStopStrings(engine: Engine): string[] {
  const eos = engine.tokenizer.eosId !== undefined ? engine.tokenizer.decode([engine.tokenizer.eosId]) : undefined;
  return stopStringsForTemplate(engine.chatTemplate, eos);
}

/** Owner of the KV slot all chat-class requests share (a conversation's next turn reuses its cache). */
export const CHAT_SLOT_OWNER = 'chat';

export async function runStreamed(ctx: ServerContext, engine: Engine, g: StreamedGeneration, token: CancellationToken): Promise<GenerationResult> {
  const ac = new AbortController();
  const sub = token.onCancellationRequested(() => ac.abort());
  const onText = streamNotifier(ctx, g.streamId);
  try {
    // the answer may use what the context has left after the prompt
    const room = engine.model.nCtx - g.prompt.length - 1;
    const o = await ctx.scheduler.submit({
      kind: 'chat',
      owner: CHAT_SLOT_OWNER,
      prompt: g.prompt,
      maxTokens: Math.max(1, Math.min(g.maxTokens, room)),
      sampling: { temperature: g.temperature, topK: 40, topP: 0.95, seed: g.seed ?? 42 },
      stop: g.stop,
      onText,
      signal: ac.signal,
    });
    return {
      text: o.text,
      stopReason: o.stopReason,
      promptTokens: o.promptTokens,
      reusedTokens: o.reusedTokens,
      generatedTokens: o.tokens.length,
      prefillMs: Math.round(o.prefillMs),
      decodeMs: Math.round(o.decodeMs),
    };
  } finally {
    sub.dispose();
  }
}

/** Sends each non-empty delta as `moecode/stream/didAppend` with its sequence number; undefined without a streamId. */
export function streamNotifier(ctx: ServerContext, streamId: string | number | undefined): ((delta: string) => void) | undefined {
  if (streamId === undefined) return undefined;
  let seq = 0;
  return (delta: string) => {
    if (delta.length > 0) void ctx.connection.sendNotification(StreamAppendNotification.type, { streamId, seq: seq++, delta }).catch(() => undefined);
  };
}
