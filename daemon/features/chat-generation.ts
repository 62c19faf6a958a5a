/**
 * A chat-class generation (chat, explain, and `moecode serve`'s chat and plain completions) as a
 * scheduler request: the answer may use what the context leaves after the prompt, sampling defaults
 * (top-k 40, top-p 0.95, a fixed seed so the same request gives the same answer), and the KV slot all
 * chat-class requests share (a conversation's next turn reuses its cache).
 */
import type { Engine } from '../engine/engine.js';
import { stopStringsForTemplate } from '../engine/chat-template.js';
import type { GenerationRequest } from '../scheduler/generation-job.js';

/** Owner of the KV slot all chat-class requests share. */
export const CHAT_SLOT_OWNER = 'chat';

export const CHAT_TOP_K = 40;
export const CHAT_TOP_P = 0.95;
export const CHAT_SEED = 42;

export interface ChatGeneration {
  prompt: number[];
  maxTokens: number;
  temperature: number;
  topP?: number;
  seed?: number;
  stop: readonly string[];
  onText?: (delta: string) => void;
  signal?: AbortSignal;
}

/** Stop strings of the model's chat template (its end-of-turn marker and EOS text). */
export function chatStopStrings(engine: Engine): string[] {
  const eos = engine.tokenizer.eosId !== undefined ? engine.tokenizer.decode([engine.tokenizer.eosId]) : undefined;
  return stopStringsForTemplate(engine.chatTemplate, eos);
}

export function chatGenerationRequest(engine: Engine, g: ChatGeneration): GenerationRequest {
  const room = engine.model.nCtx - g.prompt.length - 1;
  return {
    kind: 'chat',
    preparedFor: engine,
    owner: CHAT_SLOT_OWNER,
    prompt: g.prompt,
    maxTokens: Math.max(1, Math.min(g.maxTokens, room)),
    sampling: { temperature: g.temperature, topK: CHAT_TOP_K, topP: g.topP ?? CHAT_TOP_P, seed: g.seed ?? CHAT_SEED },
    stop: g.stop,
    onText: g.onText,
    signal: g.signal,
  };
}
