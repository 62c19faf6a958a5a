/**
 * OpenAI chat messages as the engine's ChatMessage list: roles system, developer (as system), user and
 * assistant; content a string or an array of text parts. Tool and function messages, and parts other
 * than text, are refused with 400 naming the field.
 */
import type { ChatMessage, ChatRole } from '../engine/chat-template.js';
import { badRequest, contextTooLong } from './errors.js';
import { isObject } from './validate.js';

export const MAX_MESSAGES = 512;

const ROLES: Record<string, ChatRole> = { system: 'system', developer: 'system', user: 'user', assistant: 'assistant' };

function contentText(v: unknown, param: string): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (!Array.isArray(v)) throw badRequest(`${param} must be a string or an array of text parts`, param);
  return v
    .map((part, j) => {
      const p = `${param}[${j}]`;
      if (!isObject(part)) throw badRequest(`${p} must be an object`, p);
      if (part.type !== 'text') throw badRequest(`${p}.type ${JSON.stringify(part.type)} is not supported: only text parts are`, `${p}.type`);
      if (typeof part.text !== 'string') throw badRequest(`${p}.text must be a string`, `${p}.text`);
      return part.text;
    })
    .join('');
}

export function parseChatMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw badRequest('messages must be a non-empty array', 'messages');
  if (v.length > MAX_MESSAGES) throw badRequest(`messages has ${v.length} entries; at most ${MAX_MESSAGES} are allowed`, 'messages');
  return v.map((m, i) => {
    const param = `messages[${i}]`;
    if (!isObject(m)) throw badRequest(`${param} must be an object`, param);
    const role = typeof m.role === 'string' ? ROLES[m.role] : undefined;
    if (role === undefined) {
      throw badRequest(`${param}.role must be system, developer, user or assistant (tool calls are not supported), got ${JSON.stringify(m.role)}`, `${param}.role`);
    }
    return { role, content: contentText(m.content, `${param}.content`) };
  });
}

/**
 * Drops the oldest turns after a leading system message while the conversation has more than
 * `maxChars` characters (it could not fit, and tokenizing it whole would be wasted work); the last
 * message is never dropped, and when it alone is too long the request gets context_length_exceeded.
 */
export function dropTurnsOverChars(messages: readonly ChatMessage[], maxChars: number): ChatMessage[] {
  const first = messages[0]?.role === 'system' ? 1 : 0;
  let total = messages.reduce((n, m) => n + m.content.length, 0);
  let from = first;
  while (total > maxChars && from < messages.length - 1) total -= messages[from++]!.content.length;
  if (total > maxChars) throw contextTooLong(`the conversation has ${total} characters; the model's context cannot hold it`, 'messages');
  return from === first ? messages.slice() : [...messages.slice(0, first), ...messages.slice(from)];
}
