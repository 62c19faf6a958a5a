/**
 * Splits a Jinja template into text, `{{ expression }}`, `{% statement %}` and `{# comment #}` segments with
 * their offsets, and lexes a tag's inside into tokens with offsets. @huggingface/jinja's lexer and parser keep
 * no positions, so the validator uses these to point at the exact characters; rendering still goes through
 * @huggingface/jinja. Tag ends are found as its lexer finds them: quotes are skipped and `}}` inside `{ }`
 * (a dict literal) does not close an expression.
 */

export type SegmentKind = 'text' | 'expression' | 'statement' | 'comment';

export interface Segment {
  kind: SegmentKind;
  /** Offsets of the whole segment, delimiters included. */
  start: number;
  end: number;
  /** Offsets of the inside, without delimiters and whitespace-control dashes. */
  innerStart: number;
  innerEnd: number;
}

export interface ScanError {
  /** Offsets to underline: the unclosed opening delimiter or quote. */
  start: number;
  end: number;
  message: string;
}

export interface ScanResult {
  segments: Segment[];
  /** Set when a tag or a quote is not closed; the segments stop before it. */
  error?: ScanError;
}

const OPENERS: Record<string, { kind: SegmentKind; close: string }> = {
  '{{': { kind: 'expression', close: '}}' },
  '{%': { kind: 'statement', close: '%}' },
  '{#': { kind: 'comment', close: '#}' },
};

/** Scans text[from, to). */
export function scanTemplate(text: string, from: number, to: number): ScanResult {
  const segments: Segment[] = [];
  let i = from;
  let textStart = from;
  const flushText = (end: number): void => {
    if (end > textStart) segments.push({ kind: 'text', start: textStart, end, innerStart: textStart, innerEnd: end });
  };
  while (i < to) {
    const opener = text[i] === '{' ? OPENERS[text.slice(i, i + 2)] : undefined;
    if (!opener) {
      i++;
      continue;
    }
    flushText(i);
    const start = i;
    let innerStart = i + 2;
    if (text[innerStart] === '-') innerStart++;
    const closed = findClose(text, innerStart, to, opener.kind);
    if (closed.at < 0) {
      return { segments, error: closed.error ?? { start, end: start + 2, message: `'${text.slice(start, start + 2)}' is not closed with '${opener.close}'.` } };
    }
    let innerEnd = closed.at;
    if (innerEnd > innerStart && text[innerEnd - 1] === '-') innerEnd--;
    i = closed.at + 2;
    segments.push({ kind: opener.kind, start, end: i, innerStart, innerEnd });
    textStart = i;
  }
  flushText(to);
  return { segments };
}

/** Offset of the closing delimiter; -1 when there is none (with its own error when a quote is not closed). */
function findClose(text: string, from: number, to: number, kind: SegmentKind): { at: number; error?: ScanError } {
  if (kind === 'comment') {
    const at = text.indexOf('#}', from);
    return { at: at >= 0 && at + 2 <= to ? at : -1 };
  }
  let depth = 0;
  for (let i = from; i < to; i++) {
    const c = text[i];
    if (c === '"' || c === "'") {
      const end = skipString(text, i, to);
      if (end < 0) return { at: -1, error: { start: i, end: i + 1, message: `The string opened here with ${c} is not closed.` } };
      i = end - 1;
    } else if (kind === 'statement' && c === '%' && text[i + 1] === '}') {
      return { at: i };
    } else if (kind === 'expression' && c === '}' && text[i + 1] === '}' && depth === 0) {
      return { at: i };
    } else if (c === '{') {
      depth++;
    } else if (c === '}' && depth > 0) {
      depth--;
    }
  }
  return { at: -1 };
}

/** End offset (after the closing quote) of the string starting at `start`, or -1 when it is not closed. */
function skipString(text: string, start: number, to: number): number {
  const quote = text[start];
  for (let i = start + 1; i < to; i++) {
    if (text[i] === '\\') i++;
    else if (text[i] === quote) return i + 1;
  }
  return -1;
}

export type TokenKind = 'identifier' | 'string' | 'number' | 'operator';

export interface TagToken {
  kind: TokenKind;
  value: string;
  start: number;
  end: number;
}

const OPERATORS = ['==', '!=', '<=', '>=', '//', '**', '+', '-', '*', '/', '%', '<', '>', '=', '~', '|', '.', ',', ':', '(', ')', '[', ']', '{', '}'];

/** Tokens of a tag's inside, text[from, to); an unknown character becomes a one-character operator token. */
export function lexTag(text: string, from: number, to: number): TagToken[] {
  const tokens: TagToken[] = [];
  let i = from;
  while (i < to) {
    const c = text[i];
    if (/\s/.test(c)) {
      i++;
    } else if (c === '"' || c === "'") {
      const end = skipString(text, i, to);
      const stop = end < 0 ? to : end;
      tokens.push({ kind: 'string', value: text.slice(i, stop), start: i, end: stop });
      i = stop;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i, to))!;
      tokens.push({ kind: 'identifier', value: m[0], start: i, end: i + m[0].length });
      i += m[0].length;
    } else if (/[0-9]/.test(c)) {
      const m = /^[0-9]+(?:\.[0-9]+)?/.exec(text.slice(i, to))!;
      tokens.push({ kind: 'number', value: m[0], start: i, end: i + m[0].length });
      i += m[0].length;
    } else {
      const op = OPERATORS.find((o) => text.startsWith(o, i)) ?? c;
      tokens.push({ kind: 'operator', value: op, start: i, end: i + op.length });
      i += op.length;
    }
  }
  return tokens;
}
