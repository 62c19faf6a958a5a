/**
 * What the filters and stop rules know about a completion request: the text around the cursor and
 * whether the suggestion may span several lines. Single line when the cursor is mid-line; a block when
 * the cursor is on an empty line or right after an opening bracket (with only closers after it).
 */

export interface CompletionContext {
  /** Document text before the cursor (with the selected completion item, if any, already applied). */
  prefix: string;
  /** Document text after the cursor. */
  suffix: string;
  /** Text of the cursor line before / after the cursor. */
  linePrefix: string;
  lineSuffix: string;
  /** Leading whitespace of the cursor line: the block's starting indentation. */
  indent: string;
  /** The suggestion may span several lines. */
  multiline: boolean;
  /** The cursor follows an opening bracket (or ':'): the suggestion is the body of a new block. */
  opensBlock: boolean;
  /** Most lines a multi-line suggestion may have (1 for single-line). */
  maxLines: number;
  languageId: string;
}

export interface CompletionContextOptions {
  languageId?: string;
  /** Line limit of a multi-line suggestion (default 10). */
  maxLines?: number;
}

const OPENERS = /[{([:]\s*$|=>\s*$/;
/** After the cursor, only closing brackets and separators (editors auto-close brackets). */
const ONLY_CLOSERS = /^[\s)\]};,]*$/;

export function completionContext(prefix: string, suffix: string, opts: CompletionContextOptions = {}): CompletionContext {
  const lineStart = prefix.lastIndexOf('\n') + 1;
  const linePrefix = prefix.slice(lineStart);
  const nl = suffix.indexOf('\n');
  const lineSuffix = nl < 0 ? suffix : suffix.slice(0, nl);
  const indent = /^[ \t]*/.exec(linePrefix)![0];
  const emptyBefore = linePrefix.trim() === '';
  const opensBlock = !emptyBefore && OPENERS.test(linePrefix) && ONLY_CLOSERS.test(lineSuffix);
  const multiline = opensBlock || (emptyBefore && ONLY_CLOSERS.test(lineSuffix));
  return {
    prefix,
    suffix,
    linePrefix,
    lineSuffix,
    indent,
    multiline,
    opensBlock,
    maxLines: multiline ? Math.max(1, opts.maxLines ?? 10) : 1,
    languageId: opts.languageId ?? '',
  };
}

/** Width of leading whitespace, a tab counting as `tabSize` columns. */
export function indentWidth(line: string, tabSize = 4): number {
  let w = 0;
  for (const ch of line) {
    if (ch === ' ') w += 1;
    else if (ch === '\t') w += tabSize;
    else break;
  }
  return w;
}
