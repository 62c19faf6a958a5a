/**
 * Stop rule: a generated line identical to the first non-blank line after the cursor line means the
 * model has caught up with the code that follows; the suggestion ends before it.
 */
import { linesOf, type StopRule } from './filter.js';

export function nextNonBlankLine(suffix: string): string | undefined {
  const lines = suffix.split('\n');
  for (let i = 1; i < lines.length; i++) if (lines[i]!.trim() !== '') return lines[i]!.trimEnd();
  return undefined;
}

export const stopAtSuffixOverlap: StopRule = (text, ctx) => {
  const next = nextNonBlankLine(ctx.suffix);
  if (next === undefined) return undefined;
  const lines = linesOf(text);
  // line 0 continues the cursor line; it is a whole line only when nothing precedes the cursor
  const first = ctx.linePrefix.trim() === '' ? 0 : 1;
  for (let i = first; i < lines.length; i++) {
    const line = lines[i]!;
    if (!line.complete) break;
    if (line.text.trimEnd() === next) return Math.max(0, line.start - 1);
  }
  return undefined;
};
