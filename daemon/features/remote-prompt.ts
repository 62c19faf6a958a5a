/**
 * Chat and explain prompts for a remote server: the same messages the local model gets (system prompt,
 * attachments, the explain layout), sent as messages — the server applies its model's template —
 * bounded in characters, since the server's tokenizer is out of reach (streaming.ts runs them).
 */
import type { ChatMessage } from '../protocol.js';
import { chatMessages, type ResolvedAttachment } from './chat-prompt.js';
import { requestFailed } from './errors.js';

/** Prompt characters when the server does not say its context length (about 16k tokens of code). */
export const REMOTE_PROMPT_CHARS = 64_000;
/** Characters per token assumed to turn the server's context length into characters (code runs 3–4). */
const CHARS_PER_TOKEN = 3;
const TRUNCATED = '\n… (truncated)';

/** Characters the prompt may have: the server's context (when it says) less the answer's room. */
export function remotePromptChars(contextLength: number | undefined, maxTokens: number): number {
  if (!contextLength) return REMOTE_PROMPT_CHARS;
  return Math.max(1000, (contextLength - Math.min(maxTokens, Math.floor(contextLength / 2))) * CHARS_PER_TOKEN);
}

function charsOf(messages: readonly ChatMessage[]): number {
  return messages.reduce((n, m) => n + m.content.length, 0);
}

/**
 * The conversation within `budget` characters: an attachment longer than half the budget is cut (and
 * says so), then the oldest turns go — a kept conversation starts with a user message, as strict chat
 * templates on servers require — and contextOverflow when the last user message alone is too long.
 */
export function remoteChatMessages(messages: readonly ChatMessage[], attachments: readonly ResolvedAttachment[], budget: number): ChatMessage[] {
  const half = Math.floor(budget / 2);
  const atts = attachments.map((a) => (a.text.length > half ? { ...a, text: a.text.slice(0, half) + TRUNCATED } : a));
  const all = chatMessages(messages, atts);
  const first = all[0]?.role === 'system' ? 1 : 0;
  let size = charsOf(all);
  let from = first;
  while (size > budget && from < all.length - 1) size -= all[from++]!.content.length;
  if (from > first) while (from < all.length - 1 && all[from]!.role !== 'user') size -= all[from++]!.content.length;
  if (size > budget) throw requestFailed('contextOverflow', `the message has ${size} characters; the remote server takes about ${budget} for the prompt`);
  return [...all.slice(0, first), ...all.slice(from)];
}

/** The explanation with the most surrounding lines (`maxLines`, halving to 0) whose messages fit `budget` characters. */
export function remoteExplainMessages(render: (contextLines: number) => ChatMessage[], maxLines: number, budget: number): ChatMessage[] {
  for (let n = maxLines; ; n = Math.floor(n / 2)) {
    const messages = render(n);
    const size = charsOf(messages);
    if (size <= budget) return messages;
    if (n === 0) throw requestFailed('contextOverflow', `the code to explain has ${size} characters; the remote server takes about ${budget} for the prompt; select less`);
  }
}
