/**
 * Stop rule for blocks: the suggestion ends before a line indented less than the cursor line (it has
 * left the enclosing block). After an opening bracket the block is the bracket's body, so a line back at
 * the cursor line's indentation (usually the closing bracket, which is already there) ends it too.
 */
import { indentWidth } from './completion-context.js';
import { linesOf, type StopRule } from './filter.js';

export const stopAtDedent: StopRule = (text, ctx) => {
  if (!ctx.multiline) return undefined;
  const base = indentWidth(ctx.indent);
  const lines = linesOf(text);
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    // an unfinished line's indentation is known once it has a non-blank character
    if (line.text.trim() === '') continue;
    const w = indentWidth(line.text);
    if (w < base || (ctx.opensBlock && w <= base)) return line.start - 1;
  }
  return undefined;
};
