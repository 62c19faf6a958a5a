/**
 * Post filter: a model stuck in a loop writes the same line again and again. From the third identical
 * consecutive non-blank line (indentation included) on, the repeats are dropped, keeping the first.
 */
import { linesOf, type PostFilter } from './filter.js';

const MIN_RUN = 3;

export const dropRepetitiveLines: PostFilter = (text) => {
  const lines = linesOf(text);
  let run = 1;
  for (let i = 1; i < lines.length; i++) {
    const same = lines[i]!.text.trim() !== '' && lines[i]!.text === lines[i - 1]!.text;
    run = same ? run + 1 : 1;
    if (run === MIN_RUN) return text.slice(0, lines[i - MIN_RUN + 2]!.start - 1);
  }
  return text;
};
