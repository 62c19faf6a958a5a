/**
 * Runs a chat-class generation (chat, explain) through the scheduler, or on a remote server: streams its text as
 * `moecode/stream/didAppend` notifications when the request named a streamId, stops on
 * `$/cancelRequest` (answering at once with the text so far, stopReason 'cancelled'), and returns the
 * whole answer.
 */
import type { CancellationToken } from 'vscode-languageserver/node';
import type { Engine } from '../engine/engine.js';
import { StreamAppendNotification, type ChatMessage, type GenerationResult } from '../protocol.js';
import type { RemoteServer } from '../remote/remote-server.js';
import { chatGenerationRequest } from './chat-generation.js';
import type { ServerContext } from './feature.js';

export interface StreamedGeneration {
  prompt: number[];
  maxTokens: number;
  temperature: number;
  seed?: number;
  stop: string[];
  streamId?: string | number;
}

export async function runStreamed(ctx: ServerContext, engine: Engine, g: StreamedGeneration, token: CancellationToken): Promise<GenerationResult> {
  const ac = new AbortController();
  const sub = token.onCancellationRequested(() => ac.abort());
  const onText = streamNotifier(ctx, g.streamId);
  try {
    const o = await ctx.scheduler.submit(chatGenerationRequest(engine, { ...g, onText, signal: ac.signal }));
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

export interface RemoteStreamedGeneration {
  messages: ChatMessage[];
  maxTokens: number;
  temperature: number;
  seed?: number;
  streamId?: string | number;
}

/** Runs a chat-class request on the remote server (generation-backend.ts), streaming it when the request named a streamId; `$/cancelRequest` answers with the text so far. */
export async function runRemoteStreamed(ctx: ServerContext, server: RemoteServer, g: RemoteStreamedGeneration, token: CancellationToken): Promise<GenerationResult> {
  const ac = new AbortController();
  const sub = token.onCancellationRequested(() => ac.abort());
  try {
    return await server.chat({ messages: g.messages, maxTokens: g.maxTokens, temperature: g.temperature, seed: g.seed, onText: streamNotifier(ctx, g.streamId), signal: ac.signal });
  } finally {
    sub.dispose();
  }
}
