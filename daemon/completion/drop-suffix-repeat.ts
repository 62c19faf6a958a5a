/**
 * Post filter: drop the part of a suggestion that repeats the text after the cursor. The end of the
 * suggestion that equals the start of the rest of the cursor line (`foo(a, b);` before `);`) goes, as do
 * trailing lines equal to the lines that follow. A lone closing bracket is left to balance-brackets,
 * which knows whether the suggestion opened it.
 */
import { linesOf, type PostFilter } from './filter.js';

const CLOSER = /^[)\]}]$/;

function lineOverlap(text: string, lineSuffix: string): number {
  const after = lineSuffix.trim();
  for (let k = Math.min(after.length, text.length); k > 0; k--) {
    if (text.endsWith(after.slice(0, k))) return k === 1 && CLOSER.test(after[0]!) ? 0 : k;
  }
  return 0;
}

export const dropSuffixRepeat: PostFilter = (text, ctx) => {
  const following = ctx.suffix
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => l.trimEnd());
  const lines = linesOf(text);
  if (following.length > 0) {
    const first = ctx.linePrefix.trim() === '' ? 0 : 1;
    for (let i = first; i < lines.length; i++) {
      const tail = lines.slice(i).map((l) => l.text.trimEnd()).filter((l) => l !== '');
      if (tail.length > 0 && tail.length <= following.length && tail.every((l, j) => l === following[j])) {
        text = text.slice(0, Math.max(0, lines[i]!.start - 1));
        break;
      }
    }
  }
  if (!text.includes('\n') || ctx.lineSuffix.trim() !== '') {
    const trimmed = text.trimEnd();
    const k = lineOverlap(trimmed, ctx.lineSuffix);
    if (k > 0) text = trimmed.slice(0, trimmed.length - k);
  }
  return text;
};
