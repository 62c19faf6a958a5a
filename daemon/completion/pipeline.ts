/** The completion filters in the order they apply (each in its own file). */
import type { CompletionContext } from './completion-context.js';
import { balanceBrackets } from './balance-brackets.js';
import { dropRepetitiveLines } from './drop-repetitive-lines.js';
import { dropSuffixRepeat } from './drop-suffix-repeat.js';
import type { PostFilter, StopRule } from './filter.js';
import { stopAtBlankLines } from './stop-at-blank-lines.js';
import { stopAtDedent } from './stop-at-dedent.js';
import { stopAtInvalidText } from './stop-at-invalid-text.js';
import { stopAtLineLimit } from './stop-at-line-limit.js';
import { stopAtRepeatedRun } from './stop-at-repeated-run.js';
import { stopAtSuffixOverlap } from './stop-at-suffix-overlap.js';
import { trimTrailingWhitespace } from './trim-trailing-whitespace.js';

export const STOP_RULES: readonly StopRule[] = [stopAtInvalidText, stopAtLineLimit, stopAtDedent, stopAtBlankLines, stopAtSuffixOverlap, stopAtRepeatedRun];
export const POST_FILTERS: readonly PostFilter[] = [dropSuffixRepeat, balanceBrackets, dropRepetitiveLines, trimTrailingWhitespace];

/** Where the earliest stop rule cuts the text, or undefined while the suggestion goes on. */
export function stopPosition(text: string, ctx: CompletionContext): number | undefined {
  let cut: number | undefined;
  for (const rule of STOP_RULES) {
    const at = rule(text, ctx);
    if (at !== undefined && (cut === undefined || at < cut)) cut = at;
  }
  return cut;
}

/** The suggestion to show for generated `text`: stop rules applied as if the last line were finished, then the post filters. */
export function postProcess(text: string, ctx: CompletionContext): string {
  const cut = stopPosition(text + '\n', ctx);
  let out = cut === undefined ? text : text.slice(0, Math.min(cut, text.length));
  for (const filter of POST_FILTERS) out = filter(out, ctx);
  return out;
}
