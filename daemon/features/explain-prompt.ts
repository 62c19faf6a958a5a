/** The conversation for an explanation: language, path, the code and the lines around it. */
import type { ChatMessage } from '../engine/chat-template.js';
import { DEFAULT_SYSTEM_PROMPT, fence, sentence } from './chat-prompt.js';

export interface ExplainInput {
  languageId: string;
  path: string;
  /** 1-based inclusive lines of the code. */
  lines: [number, number];
  code: string;
  /** Lines just before and after the code (may be empty). */
  before: string;
  after: string;
  question?: string;
  /** What was left out of the code to fit the context, as a sentence (written after the code). */
  note?: string;
}

/** The request when the user asks nothing in particular (also the built-in Explain prompt file's first line). */
export const EXPLAIN_ASK = 'Explain what this code does, step by step, and point out anything surprising.';

export function explainMessages(x: ExplainInput): ChatMessage[] {
  const lang = x.languageId || 'code';
  const where = x.lines[0] === x.lines[1] ? `line ${x.lines[0]}` : `lines ${x.lines[0]}–${x.lines[1]}`;
  const ask = x.question?.trim() ? x.question.trim() : EXPLAIN_ASK;
  const f = fence(x.before + x.code + x.after);
  const note = x.note ? `\n(${sentence(x.note)})` : '';
  const parts = [`${ask}\n\nThe code is ${lang} from \`${x.path}\`, ${where}:\n${f}${x.languageId}\n${x.code}\n${f}${note}`];
  if (x.before.trim() || x.after.trim()) {
    parts.push(`Surrounding code, for context:\n${f}${x.languageId}\n${x.before}/* … the code above … */\n${x.after}${f}`);
  }
  return [
    { role: 'system', content: DEFAULT_SYSTEM_PROMPT },
    { role: 'user', content: parts.join('\n\n') },
  ];
}
