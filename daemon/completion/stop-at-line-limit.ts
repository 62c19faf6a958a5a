/**
 * Stop rule: a single-line suggestion ends at its first newline; a multi-line one after ctx.maxLines
 * lines (a block that starts by ending the cursor line does not count that empty first line).
 */
import type { StopRule } from './filter.js';

export const stopAtLineLimit: StopRule = (text, ctx) => {
  let limit = ctx.maxLines;
  if (ctx.multiline && /^[ \t]*\n/.test(text)) limit += 1;
  let nl = -1;
  for (let i = 0; i < limit; i++) {
    nl = text.indexOf('\n', nl + 1);
    if (nl < 0) return undefined;
  }
  return nl;
};
