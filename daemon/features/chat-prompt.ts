/**
 * Chat prompts: a default system message, context attachments written into the last user message
 * (path, language, line numbers, fenced text), rendered with the model's chat template, and fitted to a
 * token budget: the newest turns are kept (the fewest oldest ones dropped, found by binary search),
 * then attachments are cut from the end, whole lines first; the prompt and the result say what was
 * left out.
 */
import type { ChatMessage } from '../engine/chat-template.js';
import { encodeChat, type ChatEncoder } from '../engine/chat-encode.js';
import { CHARS_PER_TOKEN_CEILING, capChars, fitHeads, largestFitting, leftOutNote } from './chat-fit.js';
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
  /** What was left out of the text to fit the context, as a sentence (written after the code). */
  note?: string;
}

export function fence(text: string): string {
  // a fence longer than any backtick run inside the text
  const longest = Math.max(2, ...Array.from(text.matchAll(/`+/g), (m) => m[0].length));
  return '`'.repeat(longest + 1);
}

/** A note as a sentence of its own: capitalised, with a full stop. */
export function sentence(note: string): string {
  return `${note.charAt(0).toUpperCase()}${note.slice(1)}.`;
}

export function attachmentBlock(a: ResolvedAttachment): string {
  const what = a.kind === 'selection' ? 'Selected code' : 'File excerpt';
  const lines = a.lines ? (a.lines[0] === a.lines[1] ? `, line ${a.lines[0]}` : `, lines ${a.lines[0]}–${a.lines[1]}`) : '';
  const lang = a.languageId ? ` (${a.languageId})` : '';
  const f = fence(a.text);
  const note = a.note ? `\n(${sentence(a.note)})` : '';
  return `${what} from \`${a.path}\`${lang}${lines}:\n${f}${a.languageId}\n${a.text}\n${f}${note}`;
}

/** How an attachment is named in a note: "the selection from `a.ts`". */
function attachmentName(a: ResolvedAttachment): string {
  return a.kind === 'selection' ? `the selection from \`${a.path}\`` : `\`${a.path}\``;
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

export type ChatTokenizer = ChatEncoder;

/** Prompt ids of a conversation (the model's template; message text never yields control tokens). */
export function renderChatIds(engine: ChatTokenizer, messages: readonly ChatMessage[]): Promise<number[]> {
  return encodeChat(engine, messages);
}

export interface FittedPrompt {
  ids: number[];
  /** Oldest messages left out. */
  droppedTurns: number;
  /** What was left out to fit the context, as sentences for the user ('' never). */
  notes: string[];
}

/**
 * Prompt ids for the conversation within `budget` tokens. Keeps the system message and the newest
 * turns, dropping the fewest oldest ones (a kept conversation starts with a user message); when even
 * the last user message alone does not fit, cuts the attachments from their end. O(log n) renders.
 */
export async function fitChatPrompt(engine: ChatTokenizer, messages: readonly ChatMessage[], attachments: readonly ResolvedAttachment[], budget: number): Promise<FittedPrompt> {
  // nothing beyond what the budget could possibly hold is tokenized
  const ceiling = Math.max(1, budget) * CHARS_PER_TOKEN_CEILING;
  const withHeads = (heads: readonly string[]) =>
    attachments.map((a, i) => {
      const text = heads[i]!;
      const note = leftOutNote(a.text, text.length, attachmentName(a), a.lines?.[0] ?? 1);
      return { ...a, text, note: note || undefined };
    });
  const first = messages[0]?.role === 'system' ? 1 : 0;
  // where a kept conversation may start (after the system message): a user message; the last one is
  let starts: number[] = [];
  for (let i = first; i < messages.length; i++) if (messages[i]!.role === 'user') starts.push(i);
  if (starts.length === 0 || starts[starts.length - 1] !== messages.length - 1) starts = [...starts, messages.length - 1];
  const keepFrom = (start: number) => [...messages.slice(0, first), ...messages.slice(start)];

  let fitted: number[] | undefined;
  let shortest = Infinity;
  let fewestChars = Infinity;
  const fits = async (msgs: readonly ChatMessage[], atts: readonly ResolvedAttachment[]): Promise<boolean> => {
    // messages longer than the budget could hold are not rendered or tokenized (a pasted 20 MB log would
    // block the daemon for seconds per try)
    const chars = msgs.reduce((n, m) => n + m.content.length, 0);
    if (chars > ceiling) {
      fewestChars = Math.min(fewestChars, chars);
      return false;
    }
    const ids = await renderChatIds(engine, chatMessages(msgs, atts));
    shortest = Math.min(shortest, ids.length);
    if (ids.length > budget) return false;
    fitted = ids;
    return true;
  };
  const notesOf = (atts: readonly ResolvedAttachment[], dropped: number) => {
    const notes = dropped > 0 ? [`the ${dropped === 1 ? 'oldest message was' : `${dropped} oldest messages were`} left out to fit the model's context`] : [];
    for (const a of atts) if (a.note) notes.push(a.note);
    return notes.map(sentence);
  };

  let atts = withHeads(attachments.map((a) => capChars(a.text, ceiling)));
  if (await fits(messages, atts)) return { ids: fitted!, droppedTurns: 0, notes: notesOf(atts, 0) };
  // the most turns that fit: keep starts[last - k] onwards, the largest k
  const last = starts.length - 1;
  // (keeping from the first user message right after the system message is the whole conversation: known not to fit)
  const k = await largestFitting(0, last, (n) => (starts[last - n] === first ? Promise.resolve(false) : fits(keepFrom(starts[last - n]!), atts)));
  if (k !== undefined) {
    const dropped = starts[last - k]! - first;
    return { ids: fitted!, droppedTurns: dropped, notes: notesOf(atts, dropped) };
  }
  // only the last user message, with its attachments cut to fit
  const lastOnly = keepFrom(starts[last]!);
  const dropped = starts[last]! - first;
  const heads = await fitHeads(
    atts.map((a) => a.text),
    (h) => fits(lastOnly, withHeads(h)),
  );
  if (heads === undefined) {
    if (shortest === Infinity) {
      throw requestFailed('contextOverflow', `the last message has ${fewestChars} characters, more than the model's context can hold (it leaves ${budget} tokens for the prompt)`);
    }
    throw requestFailed('contextOverflow', `the conversation needs ${shortest} tokens even without its oldest messages and attachments; the model's context leaves ${budget} for the prompt`);
  }
  atts = withHeads(heads);
  return { ids: fitted!, droppedTurns: dropped, notes: notesOf(atts, dropped) };
}
