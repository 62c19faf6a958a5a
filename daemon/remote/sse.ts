/**
 * Server-sent events (the WHATWG event-stream format), parsed incrementally from text as it arrives in
 * arbitrary pieces: lines end in LF, CRLF or CR (a CR at the end of one piece and an LF at the start of
 * the next are one line end); `:` lines are comments (keep-alives); `data:` lines of one event are
 * joined with LF; a blank line ends an event; a leading BOM is dropped. One tolerance beyond the spec:
 * an event still open when the stream ends is delivered (some servers close without the last blank line).
 */

export interface SseEvent {
  /** The `event:` field, 'message' when absent. */
  event: string;
  data: string;
}

/** Longest line kept while waiting for its end: a server that never ends a line cannot exhaust memory. */
export const MAX_SSE_LINE_CHARS = 4 * 1024 * 1024;

export class SseLineTooLongError extends Error {
  constructor(what = 'line') {
    super(`an event-stream ${what} is longer than ${MAX_SSE_LINE_CHARS} characters`);
    this.name = 'SseLineTooLongError';
  }
}

export class SseParser {
  private partial = '';
  private afterCR = false;
  private started = false;
  private data: string[] = [];
  /** Characters of the data lines of the event still open. */
  private dataChars = 0;
  private eventName = '';

  /** Feeds the next piece of text; returns the events it completed, in order. */
  push(text: string): SseEvent[] {
    const out: SseEvent[] = [];
    let s = text;
    if (!this.started && s.length > 0) {
      this.started = true;
      if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
    }
    let i = 0;
    if (this.afterCR && s.startsWith('\n')) i = 1;
    this.afterCR = false;
    while (i < s.length) {
      const cr = s.indexOf('\r', i);
      const lf = s.indexOf('\n', i);
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end < 0) {
        this.partial += s.slice(i);
        if (this.partial.length > MAX_SSE_LINE_CHARS) throw new SseLineTooLongError();
        break;
      }
      const line = this.partial + s.slice(i, end);
      this.partial = '';
      this.line(line, out);
      if (s[end] === '\r') {
        if (end + 1 === s.length) this.afterCR = true;
        else if (s[end + 1] === '\n') {
          i = end + 2;
          continue;
        }
      }
      i = end + 1;
    }
    return out;
  }

  /** The stream ended: the line and event still open, if any. */
  end(): SseEvent[] {
    const out: SseEvent[] = [];
    if (this.partial.length > 0) {
      this.line(this.partial, out);
      this.partial = '';
    }
    this.dispatch(out);
    return out;
  }

  private line(line: string, out: SseEvent[]): void {
    if (line === '') {
      this.dispatch(out);
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'data') {
      // data lines with no blank line to end the event would otherwise pile up without limit
      this.dataChars += value.length + 1;
      if (this.dataChars > MAX_SSE_LINE_CHARS) throw new SseLineTooLongError('event');
      this.data.push(value);
    }
    else if (field === 'event') this.eventName = value;
    // id and retry mean nothing for one-shot generation streams
  }

  private dispatch(out: SseEvent[]): void {
    if (this.data.length > 0) out.push({ event: this.eventName || 'message', data: this.data.join('\n') });
    this.data = [];
    this.dataChars = 0;
    this.eventName = '';
  }
}
