/**
 * Post filter: a suggestion closes only brackets it opened itself. At the first closing bracket that
 * matches nothing opened in the suggestion (it would close a bracket before the cursor, which the
 * editor has usually closed already) the suggestion is cut. Brackets inside string literals that start
 * in the suggestion are ignored.
 */
import type { PostFilter } from './filter.js';

const OPEN_OF: Record<string, string> = { ')': '(', ']': '[', '}': '{' };

export const balanceBrackets: PostFilter = (text) => {
  const stack: string[] = [];
  let quote: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quote !== undefined) {
      if (c === '\\') i++;
      else if (c === quote || (c === '\n' && quote !== '`')) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === '`') quote = c;
    else if (c === '(' || c === '[' || c === '{') stack.push(c);
    else if (c in OPEN_OF) {
      if (stack[stack.length - 1] !== OPEN_OF[c]) return text.slice(0, i).trimEnd();
      stack.pop();
    }
  }
  return text;
};
