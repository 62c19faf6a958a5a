/**
 * Text that comes from a file (GGUF keys, string values, tensor names, a model's name) made safe to put
 * in an error, a status, a log line or a terminal: control characters (C0, DEL, C1, line and paragraph
 * separators, bidirectional overrides) are written as escapes, so an ANSI sequence in `general.name`
 * cannot recolour a terminal and a newline cannot forge a log line; and the text is cut to a few hundred
 * characters with an ellipsis and its real length, so a 4 MB key cannot make a 4 MB message.
 */

/** Characters kept from one untrusted string by default (after escaping). */
export const UNTRUSTED_TEXT_MAX = 200;
/** Characters kept from a whole message that may embed untrusted text (errors, statuses). */
export const UNTRUSTED_MESSAGE_MAX = 2000;

// C0 controls, DEL, C1 controls; ALM, LRM/RLM; line/paragraph separators; LRE..RLO; LRI..PDI; BOM
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ufeff]/;
const UNSAFE_GLOBAL = new RegExp(UNSAFE.source, 'g');
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeChar(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u{${code.toString(16)}}`;
}

/** Whether `s` holds a character untrustedText() would escape. */
export function hasUnsafeCharacters(s: string): boolean {
  return UNSAFE.test(s);
}

/**
 * Control characters of `s` as escapes; nothing cut. `keepLayout` keeps newlines and tabs (text meant to
 * be read as lines, e.g. generated code printed to a terminal).
 */
export function escapeControlCharacters(s: string, keepLayout = false): string {
  return s.replace(UNSAFE_GLOBAL, (c) => (keepLayout && (c === '\n' || c === '\t') ? c : escapeChar(c)));
}

/**
 * JSON.stringify escapes C0 controls; this also escapes DEL, C1 controls and the other characters
 * untrustedText() escapes, as JSON \u escapes, so JSON printed to a terminal cannot drive it either.
 */
export function terminalSafeJson(json: string): string {
  // raw newlines in JSON.stringify's output are its indentation (inside strings they are already \n)
  return json.replace(UNSAFE_GLOBAL, (c) => (c === '\n' ? c : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`));
}

/**
 * `s` with control characters escaped, cut to about `max` characters: `abc… (4194304 characters)`.
 * Only the kept part is scanned, so a huge string costs no more than a short one.
 */
export function untrustedText(s: string, max = UNTRUSTED_TEXT_MAX): string {
  let out = '';
  let i = 0;
  for (; i < s.length && out.length < max; i++) {
    const c = s[i]!;
    if (UNSAFE.test(c)) out += escapeChar(c);
    else {
      const code = c.charCodeAt(0);
      // keep a surrogate pair whole (both halves, or neither when the cut falls between them)
      if (code >= 0xd800 && code <= 0xdbff && i + 1 < s.length) {
        if (out.length + 2 > max) break;
        out += c + s[++i]!;
      } else out += c;
    }
  }
  return i < s.length ? `${out}… (${s.length} characters)` : out;
}

/**
 * A whole message that may embed untrusted text (an error from loading a file, a status): control
 * characters escaped except newlines when `keepNewlines`, cut to `max` characters.
 */
export function boundedMessage(message: string, max = UNTRUSTED_MESSAGE_MAX, keepNewlines = false): string {
  if (!keepNewlines) return untrustedText(message, max);
  const kept = message.length > max ? message.slice(0, max) : message;
  const lines = kept.split('\n').map((line) => line.replace(UNSAFE_GLOBAL, escapeChar));
  return lines.join('\n') + (kept.length < message.length ? `… (${message.length} characters)` : '');
}
