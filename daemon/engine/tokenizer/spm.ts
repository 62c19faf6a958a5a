/**
 * SentencePiece vocabularies (`tokenizer.ggml.model = "llama"`: Llama, Mistral, Mixtral, CodeLlama,
 * Grok-1), encoded as llama.cpp's llm_tokenizer_spm_session does it. One fragment of plain text (no
 * special tokens in it) at a time:
 *   1. a space is put in front when the fragment starts the text or follows a special token and the
 *      vocabulary has add_space_prefix; every ' ' becomes '▁' (U+2581);
 *   2. the text starts as one symbol per character;
 *   3. of all adjacent symbol pairs whose joined text is a token (any token: normal, control, unused,
 *      …), the one whose token has the highest score is merged first; on equal scores the leftmost;
 *      the pairs next to the merged symbol are looked up again; until no pair forms a token;
 *   4. each final symbol is its token, or (a character that is no token) its UTF-8 bytes as the byte
 *      tokens "<0xNN>".
 * llama.cpp also keeps a "resegment" table for symbols whose text is no token; every merged symbol is
 * a token by construction, so only single characters reach the byte fallback and the table is never
 * used. It is left out here.
 *
 * llama.cpp merges the whole fragment at once. A character that occurs in no token is never merged, so
 * nothing merges across it and the text on either side of it tokenizes on its own, the same whatever
 * the other side holds (ties between equal scores go to the leftmost pair on both sides alike). When no
 * token contains '\n' (Llama, Mistral and CodeLlama vocabularies: a newline is the byte token <0x0A>),
 * text is therefore encoded line by line, and lines are cached: completion prompts re-encode mostly
 * unchanged text on every keystroke.
 *
 * Where llama.cpp has no byte token for a byte (neither "<0xNN>" nor, for ASCII, the byte itself as a
 * token) it throws and the process aborts; here the unknown token stands in (SentencePiece's own
 * behaviour without byte fallback), or the byte is dropped when there is none. The vocabulary warns
 * about this once when it is loaded.
 */
import { utf8Bytes } from './byte-level.js';

/** U+2581 LOWER ONE EIGHTH BLOCK: SentencePiece's visible space. */
export const SPM_SPACE = '\u2581';

const HEX = '0123456789ABCDEF';
/** Lines cached per tokenizer before the cache is cleared, and the longest line cached. */
const CACHE_LIMIT = 1 << 14;
const CACHED_LINE_MAX = 4096;
/** Scratch symbol arrays larger than this are dropped after use (a minified megabyte line must not stay). */
const SCRATCH_KEEP = 1 << 16;
const LONE_SURROGATE = /\p{Cs}/gu;

/** The vocabulary text of byte token b: "<0x0A>" (upper-case hex, as llama.cpp looks it up). */
export function byteTokenText(b: number): string {
  return `<0x${HEX[b >> 4]}${HEX[b & 15]}>`;
}

export class SpmModel {
  private readonly tokenToId: ReadonlyMap<string, number>;
  private readonly scores: Float32Array;
  /** Token id of each byte (-1: none, the unknown token or nothing is used). */
  private readonly byteToId = new Int32Array(256);
  /** Longest token text in UTF-16 units: longer pairs cannot be tokens. */
  private readonly maxTokenLength: number;
  private readonly unkId: number | undefined;
  /** No token contains '\n': lines can be encoded one by one (see the file comment). */
  private readonly splitLines: boolean;
  private readonly cache = new Map<string, readonly number[]>();
  // scratch, reused between calls: symbols (start, length in UTF-16 units, prev, next) and the heap
  private start = new Int32Array(64);
  private len = new Int32Array(64);
  private prev = new Int32Array(64);
  private next = new Int32Array(64);
  private readonly heap = new BigramHeap();

  /**
   * @param tokens    vocabulary text by id
   * @param tokenToId text → id (the last id wins for a repeated text, as in llama.cpp)
   * @param scores    `tokenizer.ggml.scores` (float32, as llama.cpp keeps them), one per token
   * @param unkId     used for bytes that have no byte token
   * @param warn      told once, here, which bytes have no token
   */
  constructor(tokens: readonly string[], tokenToId: ReadonlyMap<string, number>, scores: Float32Array, unkId: number | undefined, warn: (msg: string) => void) {
    this.tokenToId = tokenToId;
    this.scores = scores;
    this.unkId = unkId;
    let maxLen = 0;
    for (const t of tokens) if (t.length > maxLen) maxLen = t.length;
    this.maxTokenLength = maxLen;
    this.splitLines = !tokens.some((t) => t.includes('\n'));
    const missing: number[] = [];
    for (let b = 0; b < 256; b++) {
      // llama.cpp's byte_to_token: "<0xNN>", else the byte itself as a one-byte token (ASCII only here;
      // byte 0 would be an empty C string there, which is never a token)
      const id = tokenToId.get(byteTokenText(b)) ?? (b > 0 && b < 0x80 ? tokenToId.get(String.fromCharCode(b)) : undefined);
      this.byteToId[b] = id ?? -1;
      if (id === undefined) missing.push(b);
    }
    if (missing.length > 0) {
      const shown = missing.slice(0, 8).map(byteTokenText).join(' ');
      warn(
        `tokenizer: SentencePiece vocabulary has no token for ${missing.length} byte value(s) (${shown}${missing.length > 8 ? ' …' : ''}); ` +
          `characters that need them become ${unkId !== undefined ? 'the unknown token' : 'nothing'} (llama.cpp would fail)`,
      );
    }
  }

  /** Token ids of one fragment of plain text, appended to `out`. */
  encodeFragment(fragment: string, prependSpace: boolean, out: number[]): void {
    // a lone surrogate reaches llama.cpp as U+FFFD (UTF-8 has no encoding for it)
    const text = (prependSpace ? ' ' + fragment : fragment).replaceAll(' ', SPM_SPACE).replace(LONE_SURROGATE, '\ufffd');
    if (!this.splitLines) {
      this.encodeEscaped(text, out);
      return;
    }
    for (let from = 0; from < text.length; ) {
      const nl = text.indexOf('\n', from);
      const end = nl < 0 ? text.length : nl;
      if (end > from) this.encodeCached(text.slice(from, end), out);
      if (nl < 0) break;
      this.encodeCached('\n', out);
      from = nl + 1;
    }
  }

  private encodeCached(segment: string, out: number[]): void {
    if (segment.length > CACHED_LINE_MAX) {
      this.encodeEscaped(segment, out);
      return;
    }
    let ids = this.cache.get(segment);
    if (ids === undefined) {
      const fresh: number[] = [];
      this.encodeEscaped(segment, fresh);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(segment, fresh);
      ids = fresh;
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  }

  /** The merge loop over escaped text (spaces already '▁'). */
  private encodeEscaped(text: string, out: number[]): void {
    if (text.length === 0) return;
    this.ensureCapacity(text.length);
    const { start, len, prev, next } = this;

    // one symbol per character (a surrogate pair is one character)
    let n = 0;
    for (let i = 0; i < text.length; ) {
      const c = text.charCodeAt(i);
      const w = c >= 0xd800 && c <= 0xdbff && i + 1 < text.length && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00 ? 2 : 1;
      start[n] = i;
      len[n] = w;
      prev[n] = n - 1;
      next[n] = n + 1;
      n++;
      i += w;
    }
    next[n - 1] = -1;

    const heap = this.heap;
    heap.clear();
    const tryPair = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const size = len[left]! + len[right]!;
      if (size > this.maxTokenLength) return;
      const id = this.tokenToId.get(text.substr(start[left]!, size));
      if (id !== undefined) heap.push(this.scores[id]!, left, right, size);
    };
    for (let i = 1; i < n; i++) tryPair(i - 1, i);

    while (heap.size > 0) {
      const left = heap.topLeft();
      const right = heap.topRight();
      const size = heap.topSize();
      heap.pop();
      // stale: one side was merged away, or grew, since the pair was queued
      if (len[left] === 0 || len[right] === 0 || len[left]! + len[right]! !== size) continue;
      len[left] = size;
      len[right] = 0;
      next[left] = next[right]!;
      if (next[right]! >= 0) prev[next[right]!] = left;
      tryPair(prev[left]!, left);
      tryPair(left, next[left]!);
    }

    for (let i = 0; i >= 0; i = next[i]!) {
      const piece = text.substr(start[i]!, len[i]!);
      const id = this.tokenToId.get(piece);
      if (id !== undefined) out.push(id);
      else this.pushBytes(piece, out);
    }
    heap.clear();
    if (start.length > SCRATCH_KEEP) this.ensureCapacity(0, true);
  }

  /** Byte fallback for one character that is not a token. */
  private pushBytes(ch: string, out: number[]): void {
    for (const b of utf8Bytes(ch)) {
      const id = this.byteToId[b]!;
      if (id >= 0) out.push(id);
      else if (this.unkId !== undefined) out.push(this.unkId);
    }
  }

  private ensureCapacity(n: number, shrink = false): void {
    if (this.start.length >= n && !shrink) return;
    let cap = shrink ? 64 : this.start.length;
    while (cap < n) cap *= 2;
    this.start = new Int32Array(cap);
    this.len = new Int32Array(cap);
    this.prev = new Int32Array(cap);
    this.next = new Int32Array(cap);
  }
}

/**
 * Max-heap of candidate merges: highest score first, then the smallest left index (llama.cpp's
 * llm_bigram_spm comparator). Entries live in parallel arrays; the heap orders their slots.
 */
class BigramHeap {
  private score: number[] = [];
  private left: number[] = [];
  private right: number[] = [];
  private sizes: number[] = [];
  /** Heap of entry slots. */
  private order: number[] = [];
  private free: number[] = [];

  get size(): number {
    return this.order.length;
  }

  clear(): void {
    this.score.length = this.left.length = this.right.length = this.sizes.length = 0;
    this.order.length = this.free.length = 0;
  }

  push(score: number, left: number, right: number, size: number): void {
    let e: number;
    if (this.free.length > 0) {
      e = this.free.pop()!;
      this.score[e] = score;
      this.left[e] = left;
      this.right[e] = right;
      this.sizes[e] = size;
    } else {
      e = this.score.length;
      this.score.push(score);
      this.left.push(left);
      this.right.push(right);
      this.sizes.push(size);
    }
    const h = this.order;
    let i = h.length;
    h.push(e);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(e, h[p]!)) break;
      h[i] = h[p]!;
      i = p;
    }
    h[i] = e;
  }

  topLeft(): number {
    return this.left[this.order[0]!]!;
  }

  topRight(): number {
    return this.right[this.order[0]!]!;
  }

  topSize(): number {
    return this.sizes[this.order[0]!]!;
  }

  pop(): void {
    const h = this.order;
    this.free.push(h[0]!);
    const last = h.pop()!;
    const n = h.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && this.before(h[r]!, h[l]!) ? r : l;
      if (!this.before(h[c]!, last)) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }

  /** Whether entry a comes out before entry b. */
  private before(a: number, b: number): boolean {
    const sa = this.score[a]!;
    const sb = this.score[b]!;
    return sa > sb || (sa === sb && this.left[a]! < this.left[b]!);
  }
}
