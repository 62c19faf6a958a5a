/**
 * Chat prompts: a default system message, context attachments written into the last user message
 * (path, language, line numbers, fenced text), rendered with the model's chat template, and fitted to a
 * token budget by dropping the oldest turns, then shortening the longest attachment.
 */
import { renderChat, type ChatMessage } from '../engine/chat-template.js';
import type { Tokenizer } from '../engine/tokenizer/tokenizer.js';
import { requestFailed } from './errors.js';

export const DEFAULT_SYSTEM_PROMPT =
  "You are MoeCode, a coding assistant running locally in the user's editor. Answer concisely and accurately. Put code in fenced blocks with a language tag.";

export interface ResolvedAttachment {
  kind: 'selection' | 'file';
  path: string;
  languageId: string;
  /** 1-based inclusive line numbers of the excerpt, when known. */
  lines?: [number, number];
  text: string;
}

const TRUNCATED = '\n… (truncated)';

export function fence(text: string): string {
  // a fence longer than any backtick run inside the text
  const longest = Math.max(2, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  return '`'.repeat(longest + 1);
}

export function attachmentBlock(a: ResolvedAttachment): string {
  const what = a.kind === 'selection' ? 'Selected code' : 'File excerpt';
  const lines = a.lines ? (a.lines[0] === a.lines[1] ? `, line ${a.lines[0]}` : `, lines ${a.lines[0]}–${a.lines[1]}`) : '';
  const lang = a.languageId ? ` (${a.languageId})` : '';
  const f = fence(a.text);
  return `${what} from \`${a.path}\`${lang}${lines}:\n${f}${a.languageId}\n${a.text}\n${f}`;
}

/** The conversation with the system message and attachments in place. */
export function chatMessages(messages: readonly ChatMessage[], attachments: readonly ResolvedAttachment[]): ChatMessage[] {
  const out = messages.map((m) => ({ ...m }));
  if (out[0]?.role !== 'system') out.unshift({ role: 'system', content: DEFAULT_SYSTEM_PROMPT });
  if (attachments.length > 0) {
    let last = out.length - 1;
    while (last > 0 && out[last]!.role !== 'user') last--;
    const target = out[last]!;
    target.content = `${target.content}\n\n${attachments.map(attachmentBlock).join('\n\n')}`;
  }
  return out;
}

export interface ChatTokenizer {
  tokenizer: Tokenizer;
  chatTemplate: string | undefined;
}

export function renderChatIds(engine: ChatTokenizer, messages: readonly ChatMessage[]): number[] {
  const tok = engine.tokenizer;
  const text = renderChat(engine.chatTemplate, messages, {
    bosToken: tok.bosId !== undefined ? tok.decode([tok.bosId]) : '',
    eosToken: tok.eosId !== undefined ? tok.decode([tok.eosId]) : '',
    addGenerationPrompt: true,
  });
  return tok.encode(text, { parseSpecial: true });
}

/**
 * Prompt ids for the conversation within `budget` tokens. Drops the oldest turns after the system
 * message (never the last user message), then halves the longest attachment until it fits.
 */
export function fitChatPrompt(engine: ChatTokenizer, messages: readonly ChatMessage[], attachments: readonly ResolvedAttachment[], budget: number): { ids: number[]; droppedTurns: number } {
  let msgs = messages.slice();
  const atts = attachments.map((a) => ({ ...a }));
  let dropped = 0;
  for (let guard = 0; guard < 200; guard++) {
    const ids = renderChatIds(engine, chatMessages(msgs, atts));
    if (ids.length <= budget) return { ids, droppedTurns: dropped };
    const first = msgs[0]?.role === 'system' ? 1 : 0;
    if (msgs.length - first > 1) {
      msgs = [...msgs.slice(0, first), ...msgs.slice(first + 1)];
      dropped++;
      continue;
    }
    const longest = atts.reduce<ResolvedAttachment | undefined>((a, b) => (!a || b.text.length > a.text.length ? b : a), undefined);
    if (longest && longest.text.length > 200) {
      const keep = longest.text.endsWith(TRUNCATED) ? longest.text.slice(0, -TRUNCATED.length) : longest.text;
      longest.text = keep.slice(0, Math.floor(keep.length / 2)) + TRUNCATED;
      continue;
    }
    throw requestFailed('contextOverflow', `the conversation needs ${ids.length} tokens; the model's context leaves ${budget} for the prompt`);
  }
  throw requestFailed('contextOverflow', 'the conversation does not fit the model context');
}
