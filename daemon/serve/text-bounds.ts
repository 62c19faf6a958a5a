/**
 * Bounds on text before it is tokenized: a token is rarely longer than MAX_CHARS_PER_TOKEN characters,
 * so text far beyond `budget × MAX_CHARS_PER_TOKEN` cannot fit a budget of `budget` tokens and is cut
 * (or refused) first. This keeps the tokenizer's work on a request (and the completion stop rules' work
 * on the text after the cursor, every token) proportional to the context, not to the size of the body.
 */

export const MAX_CHARS_PER_TOKEN = 32;

/** The end of `text`, at most `maxChars` long; when cut, it starts at a line start if one is in reach. */
export function tailAtLine(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const start = text.length - maxChars;
  const nl = text.indexOf('\n', start - 1);
  return nl >= 0 && nl + 1 < text.length ? text.slice(nl + 1) : text.slice(start);
}

/** The start of `text`, at most `maxChars` long; when cut, it ends after a line end if one is in reach. */
export function headAtLine(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const nl = text.lastIndexOf('\n', maxChars - 1);
  return nl > 0 ? text.slice(0, nl + 1) : text.slice(0, maxChars);
}
