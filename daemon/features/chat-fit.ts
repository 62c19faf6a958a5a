/**
 * Fitting code into a prompt: how much of a text to keep, found with O(log n) renders, and the note
 * that says what was left out. Code is kept from its start, whole lines first; only when not even its
 * first line fits is that line cut.
 */

/** No text is tokenized beyond this many characters per prompt token (code averages 3–4). */
export const CHARS_PER_TOKEN_CEILING = 16;

/**
 * The largest k in [lo, hi] for which `fits(k)` holds, when it holds up to some k and not beyond;
 * undefined when not even `fits(lo)` holds. Calls `fits` about log2(hi − lo) + 1 times.
 */
export async function largestFitting(lo: number, hi: number, fits: (k: number) => Promise<boolean>): Promise<number | undefined> {
  if (hi < lo || !(await fits(lo))) return undefined;
  while (lo < hi) {
    const mid = lo + Math.ceil((hi - lo) / 2);
    if (await fits(mid)) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Offsets just past each line of `text` (the last line may lack its newline). */
export function lineEnds(text: string): number[] {
  const ends: number[] = [];
  for (let at = text.indexOf('\n'); at >= 0; at = text.indexOf('\n', at + 1)) ends.push(at + 1);
  if (ends.length === 0 || ends[ends.length - 1]! < text.length) ends.push(text.length);
  return ends;
}

/**
 * The longest heads of `texts` that fit, all cut alike: each keeps up to the same number of whole
 * lines, or, when no whole line fits, up to the same number of characters of its first line.
 * Undefined when not even empty heads fit. `fits` receives the heads to try.
 */
export async function fitHeads(texts: readonly string[], fits: (heads: string[]) => Promise<boolean>): Promise<string[] | undefined> {
  const ends = texts.map(lineEnds);
  const byLines = (n: number) => texts.map((t, i) => (n >= ends[i]!.length ? t : t.slice(0, n === 0 ? 0 : ends[i]![n - 1])));
  const byChars = (c: number) => texts.map((t, i) => t.slice(0, Math.min(c, ends[i]![0] ?? 0)));
  const mostLines = Math.max(0, ...ends.map((e) => e.length));
  const lines = await largestFitting(0, mostLines, (n) => fits(byLines(n)));
  if (lines === undefined) return undefined;
  if (lines > 0) return byLines(lines);
  const longestFirstLine = Math.max(0, ...ends.map((e) => e[0] ?? 0));
  return byChars((await largestFitting(0, longestFirstLine, (c) => fits(byChars(c)))) ?? 0);
}

/**
 * What keeping only the first `kept` characters of `text` leaves out, as a sentence ('' when
 * nothing): "lines 40–400 of the selection from `a.ts` were left out to fit the model's context".
 * `firstLine` is the number of the text's first line.
 */
export function leftOutNote(text: string, kept: number, what: string, firstLine = 1): string {
  if (kept >= text.length) return '';
  const ends = lineEnds(text);
  let whole = 0;
  while (whole < ends.length && ends[whole]! <= kept) whole++;
  const cutLine = firstLine + whole;
  const last = firstLine + ends.length - 1;
  const span = (a: number, b: number) => (a === b ? `line ${a}` : `lines ${a}–${b}`);
  const partial = kept - (whole === 0 ? 0 : ends[whole - 1]!);
  if (partial === 0) return `${span(cutLine, last)} of ${what} ${cutLine === last ? 'was' : 'were'} left out to fit the model's context`;
  const rest = cutLine < last ? ` and ${span(cutLine + 1, last)} were left out` : ' was left out';
  return `line ${cutLine} of ${what} was cut after ${partial} character${partial === 1 ? '' : 's'} (the rest of it${rest}) to fit the model's context`;
}

/** `text` cut to at most `maxChars` characters, at a line end when there is one. */
export function capChars(text: string, maxChars: number): string {
  if (text.length <= maxChars) return text;
  const nl = text.lastIndexOf('\n', maxChars - 1);
  return text.slice(0, nl >= 0 ? nl + 1 : maxChars);
}
