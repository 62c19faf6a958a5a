/**
 * Byte-level BPE on one pre-tokenized word, as llama.cpp's llm_tokenizer_bpe_session: the word's UTF-8
 * bytes start as one symbol each; the adjacent pair with the lowest merge rank (leftmost on ties) is
 * merged until no pair has a rank; each final symbol is its token, or, if its text is not in the
 * vocabulary, its bytes one by one.
 *
 * Symbols are integer ids so a merge is one Map lookup on a number. Strings that merges produce or
 * use but the vocabulary lacks get ids past the vocabulary ("virtual" symbols), so such chains merge
 * exactly as llama.cpp merges them by text; they are expanded to bytes only at the end.
 */
import { BYTE_TO_CHAR, utf8Bytes } from './byte-level.js';

/** Pair key: left * PAIR_STRIDE + right, exact in a double for ids below 2^22. */
const PAIR_STRIDE = 2 ** 22;
/** Words cached per tokenizer before the cache is cleared. */
const CACHE_LIMIT = 1 << 16;

export class BpeModel {
  private readonly vocabSize: number;
  private readonly tokenToId: ReadonlyMap<string, number>;
  /** Text of every symbol id: the vocabulary, then virtual symbols. */
  private readonly symbolText: string[];
  /** Symbol id of each byte's one-character string. */
  private readonly byteSymbol = new Int32Array(256);
  /** pair key → merge rank. */
  private readonly ranks = new Map<number, number>();
  /** rank → symbol id of the merged text. */
  private readonly mergedSymbol: Int32Array;
  private readonly ignoreMerges: boolean;
  private readonly cache = new Map<string, readonly number[]>();
  /** Scratch heap of packed (rank, left index) keys. */
  private heap: number[] = [];

  /**
   * @param tokens   vocabulary text by id (byte-level alphabet)
   * @param tokenToId text → id (the last id wins for a repeated text, as in llama.cpp)
   * @param merges   "left right" strings in rank order
   */
  constructor(tokens: readonly string[], tokenToId: ReadonlyMap<string, number>, merges: readonly string[], ignoreMerges: boolean) {
    this.vocabSize = tokens.length;
    this.tokenToId = tokenToId;
    this.ignoreMerges = ignoreMerges;
    this.symbolText = tokens.slice();
    const virtualIds = new Map<string, number>();
    const intern = (text: string): number => {
      const id = tokenToId.get(text) ?? virtualIds.get(text);
      if (id !== undefined) return id;
      const v = this.symbolText.length;
      this.symbolText.push(text);
      virtualIds.set(text, v);
      return v;
    };
    for (let b = 0; b < 256; b++) this.byteSymbol[b] = intern(BYTE_TO_CHAR[b]!);
    this.mergedSymbol = new Int32Array(merges.length).fill(-1);
    for (let rank = 0; rank < merges.length; rank++) {
      const merge = merges[rank]!;
      // split at the first space after position 0, as llama.cpp (a left part may itself be " ")
      const sp = merge.indexOf(' ', 1);
      if (sp < 0) continue;
      const left = merge.slice(0, sp);
      const right = merge.slice(sp + 1);
      const key = intern(left) * PAIR_STRIDE + intern(right);
      if (this.ranks.has(key)) continue; // first occurrence wins, as std::map::emplace
      this.ranks.set(key, rank);
      this.mergedSymbol[rank] = intern(left + right);
    }
    if (this.symbolText.length >= PAIR_STRIDE) throw new RangeError(`BPE: too many symbols (${this.symbolText.length})`);
  }

  /** Token ids of one word (a piece of text from the pre-tokenizer), appended to `out`. */
  encodeWord(word: string, out: number[]): void {
    let ids = this.cache.get(word);
    if (ids === undefined) {
      ids = this.encodeUncached(word);
      if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
      this.cache.set(word, ids);
    }
    for (let i = 0; i < ids.length; i++) out.push(ids[i]!);
  }

  private encodeUncached(word: string): number[] {
    const bytes = utf8Bytes(word);
    const n = bytes.length;
    const out: number[] = [];
    if (this.ignoreMerges && n > 1) {
      let text = '';
      for (let i = 0; i < n; i++) text += BYTE_TO_CHAR[bytes[i]!];
      const id = this.tokenToId.get(text);
      if (id !== undefined) return [id];
    }
    // symbols: one per byte, doubly linked; len[i] = 0 once merged into its left neighbour
    const sym = new Int32Array(n);
    const len = new Int32Array(n);
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      sym[i] = this.byteSymbol[bytes[i]!]!;
      len[i] = 1;
      prev[i] = i - 1;
      next[i] = i + 1 < n ? i + 1 : -1;
    }
    const heap = this.heap;
    heap.length = 0;
    const push = (left: number): void => {
      const right = next[left]!;
      if (left < 0 || right < 0) return;
      const rank = this.ranks.get(sym[left]! * PAIR_STRIDE + sym[right]!);
      if (rank !== undefined) heapPush(heap, rank * n + left);
    };
    for (let i = 0; i + 1 < n; i++) push(i);
    while (heap.length > 0) {
      const key = heapPop(heap);
      const left = key % n;
      const rank = (key - left) / n;
      const right = next[left]!;
      // stale entry: the left symbol was merged away, or the pair at `left` changed since it was pushed
      if (len[left] === 0 || right < 0) continue;
      if (this.ranks.get(sym[left]! * PAIR_STRIDE + sym[right]!) !== rank) continue;
      sym[left] = this.mergedSymbol[rank]!;
      len[left]! += len[right]!;
      len[right] = 0;
      next[left] = next[right]!;
      if (next[right]! >= 0) prev[next[right]!] = left;
      if (prev[left]! >= 0) push(prev[left]!);
      push(left);
    }
    for (let i = 0; i >= 0 && i < n; i = next[i]!) {
      const id = sym[i]!;
      if (id < this.vocabSize) out.push(id);
      else this.pushBytesOf(id, out);
    }
    return out;
  }

  /**
   * Fallback for a symbol whose text is not a token: llama.cpp looks up every byte of the symbol's
   * (byte-level, UTF-8) text as a one-byte string, so only bytes that are themselves printable ASCII
   * tokens come out; the rest are dropped. Reproduced as is; it only happens with a vocabulary that
   * lacks single-byte tokens or merge results.
   */
  private pushBytesOf(id: number, out: number[]): void {
    for (const b of utf8Bytes(this.symbolText[id]!)) {
      if (b >= 0x80) continue;
      const t = this.tokenToId.get(String.fromCharCode(b));
      if (t !== undefined) out.push(t);
    }
  }
}

function heapPush(h: number[], v: number): void {
  let i = h.length;
  h.push(v);
  while (i > 0) {
    const p = (i - 1) >> 1;
    if (h[p]! <= v) break;
    h[i] = h[p]!;
    i = p;
  }
  h[i] = v;
}

function heapPop(h: number[]): number {
  const top = h[0]!;
  const last = h.pop()!;
  const n = h.length;
  if (n > 0) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && h[r]! < h[l]! ? r : l;
      if (h[c]! >= last) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}
