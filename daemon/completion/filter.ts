/**
 * The two kinds of completion filters. A stop rule runs after every generated token and says where the
 * suggestion ends once it can tell (generation then stops); the same rules cut the final text. A post
 * filter runs once on the final text. Each filter lives in its own file with its own test; pipeline.ts
 * lists them in order.
 */
import type { CompletionContext } from './completion-context.js';

/** Returns the length the text should be cut to if the suggestion has ended, else undefined. */
export type StopRule = (text: string, ctx: CompletionContext) => number | undefined;

/** Returns the text to keep. */
export type PostFilter = (text: string, ctx: CompletionContext) => string;

/** The lines of a suggestion with their offsets; line 0 is the rest of the cursor line. */
export function linesOf(text: string): { text: string; start: number; complete: boolean }[] {
  const out: { text: string; start: number; complete: boolean }[] = [];
  let start = 0;
  while (true) {
    const nl = text.indexOf('\n', start);
    if (nl < 0) {
      out.push({ text: text.slice(start), start, complete: false });
      return out;
    }
    out.push({ text: text.slice(start, nl), start, complete: true });
    start = nl + 1;
  }
}
