/**
 * Recent suggestions keyed by the text around the cursor. A request whose prefix is a cached prefix
 * plus characters the user typed, when those characters are how the cached suggestion begins, gets the
 * rest of that suggestion without running the model (the user is typing what was suggested).
 */

interface Entry {
  uri: string;
  prefix: string;
  suffix: string;
  text: string;
}

export class CompletionCache {
  // most recent last
  private entries: Entry[] = [];

  constructor(private readonly capacity = 16) {}

  get size(): number {
    return this.entries.length;
  }

  /** The suggestion for this cursor position, if a recent one covers it ('' is a cached empty answer). */
  get(uri: string, prefix: string, suffix: string): string | undefined {
    for (let i = this.entries.length - 1; i >= 0; i--) {
      const e = this.entries[i]!;
      if (e.uri !== uri || e.suffix !== suffix || prefix.length < e.prefix.length) continue;
      if (prefix.length === e.prefix.length) {
        if (prefix === e.prefix) return e.text;
        continue;
      }
      const typed = prefix.slice(e.prefix.length);
      if (typed.length < e.text.length && e.text.startsWith(typed) && prefix.startsWith(e.prefix)) return e.text.slice(typed.length);
    }
    return undefined;
  }

  set(uri: string, prefix: string, suffix: string, text: string): void {
    this.entries = this.entries.filter((e) => !(e.uri === uri && e.prefix === prefix && e.suffix === suffix));
    this.entries.push({ uri, prefix, suffix, text });
    if (this.entries.length > this.capacity) this.entries.shift();
  }

  /** Forget a document's entries (closed), or all (model or settings changed). */
  clear(uri?: string): void {
    this.entries = uri === undefined ? [] : this.entries.filter((e) => e.uri !== uri);
  }
}
