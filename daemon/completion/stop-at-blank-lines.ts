/** Stop rule for blocks: two blank lines in a row end the suggestion (the model has moved on). */
import type { StopRule } from './filter.js';

const BLANK_RUN = /\n[ \t]*\n[ \t]*\n/;

export const stopAtBlankLines: StopRule = (text, ctx) => {
  if (!ctx.multiline) return undefined;
  const m = BLANK_RUN.exec(text);
  return m ? m.index : undefined;
};
