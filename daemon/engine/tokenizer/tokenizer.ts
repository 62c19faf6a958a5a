/**
 * GGUF tokenizer matching llama.cpp's tokenize(): special tokens are cut out of the text first
 * (longest first), and every other piece is encoded by the vocabulary type's text model
 * (text-model.ts): for byte-level BPE (`tokenizer.ggml.model = "gpt2"`) split by the pre-tokenizer
 * named by `tokenizer.ggml.pre` and BPE-merged by rank; for SentencePiece (`"llama"`, spm.ts) merged
 * by token score, with byte fallback.
 *
 * Why not @huggingface/tokenizers (0.2.0, tried with a tokenizer.json built from the same GGUF data
 * and compared with llama.cpp on GPT-2's vocabulary): it follows Hugging Face's semantics, and our
 * reference is llama.cpp. It always matches added tokens in user text (no parse_special switch, so
 * "<|im_end|>" typed in a source file becomes the control token), its ByteLevel pattern treats U+FEFF
 * as whitespace where llama.cpp does not (different tokens for text with a BOM), it finds no
 * end-of-generation / FIM tokens by text, and it was ~10x slower here (6 ms vs 0.5 ms for a
 * 4,000-token source file, warm). So this is a small BPE of our own: integer pair keys, a heap by
 * rank, a cache per word; the tests check it against llama.cpp itself.
 */
import { parseFimOrder, type FimOrder } from '../../gguf/moecode-keys.js';
import { byteLevelToBytes, utf8Bytes } from './byte-level.js';
import { type FimIds, TokenAttr, attrFromType, detectSpecialIds } from './special-tokens.js';
import { SUPPORTED_MODELS, type TextModel, type VocabType, VOCAB_DEFAULTS, createTextModel, vocabTypeOf } from './text-model.js';

export type { FimIds } from './special-tokens.js';

/** Plain tokenizer data, as a GGUF holds it (see gguf-adapter.ts for reading it from metadata). */
export interface TokenizerData {
  /** `tokenizer.ggml.model`: "gpt2" (byte-level BPE) or "llama" (SentencePiece). */
  model: string;
  /** `tokenizer.ggml.pre`. */
  pre?: string;
  tokens: string[];
  /** `tokenizer.ggml.token_type`: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte. */
  tokenTypes?: ArrayLike<number>;
  /** `tokenizer.ggml.merges`: "left right", in rank order (BPE only). */
  merges: string[];
  /** `tokenizer.ggml.scores`: SentencePiece merges the pair whose token scores highest. */
  scores?: ArrayLike<number>;
  bosId?: number;
  eosId?: number;
  eotId?: number;
  padId?: number;
  /** `tokenizer.ggml.unknown_token_id`. */
  unkId?: number;
  /** `tokenizer.ggml.add_bos_token`; when absent true for SentencePiece, else the pre-tokenizer's default (true for llama3). */
  addBos?: boolean;
  /** `tokenizer.ggml.add_eos_token`; default false. */
  addEos?: boolean;
  /** `tokenizer.ggml.add_space_prefix`; default true for SentencePiece, false for BPE. */
  addSpacePrefix?: boolean;
  /** `tokenizer.ggml.fim_*_token_id`; missing ones are looked up by token text. */
  fim?: FimIds;
  /** `moecode.fim_order` as written in the file: the FIM token order the model was trained with. */
  fimOrder?: string;
}

export interface EncodeOptions {
  /** Prepend BOS. Default: the model's add_bos. */
  addBos?: boolean;
  /** Append EOS. Default: the model's add_eos (false for nearly every model). */
  addEos?: boolean;
  /**
   * Match control tokens written in the text (chat templates, FIM prompts). Default false: user text
   * never yields control tokens. User-defined tokens (type 4) are matched either way, as in llama.cpp.
   */
  parseSpecial?: boolean;
}

/** A piece of text to encode, and whether control tokens written in it are matched. */
export interface TextSpan {
  text: string;
  parseSpecial: boolean;
}

/**
 * Decoding follows llama.cpp's detokenize (without its remove_special): when the vocabulary has
 * add_space_prefix (SentencePiece, usually) one leading space of the first token's text is dropped,
 * unless that first token is a skipped special token. Per-token text (tokenToBytes, StreamDecoder)
 * never drops it: generated text continues a prompt.
 */
export interface DecodeOptions {
  /** Leave out control and unknown tokens. Default false. */
  skipSpecial?: boolean;
}

export interface TokenizerOptions {
  /** Where load-time warnings go. Default: console.warn (stderr; stdout may carry the LSP stream). */
  warn?: (msg: string) => void;
}

export class TokenizerError extends Error {
  override readonly name = 'TokenizerError';
}

const SPECIAL_ATTRS = TokenAttr.Control | TokenAttr.UserDefined | TokenAttr.Unknown;
const SKIPPED_ATTRS = TokenAttr.Control | TokenAttr.Unknown;
const EMPTY = new Uint8Array(0);

export class Tokenizer {
  /** llama.cpp's vocabulary type: 'bpe' ("gpt2") or 'spm' (SentencePiece, "llama"). */
  readonly type: VocabType;
  readonly vocabSize: number;
  readonly bosId?: number;
  readonly eosId?: number;
  readonly eotId?: number;
  readonly padId?: number;
  readonly unkId?: number;
  /** Whether encode() prepends BOS by default. */
  readonly addBos: boolean;
  /** Whether encode() appends EOS by default. */
  readonly addEos: boolean;
  /** SentencePiece puts a space before text that starts the input or follows a special token; decode() drops it again. */
  readonly addSpacePrefix: boolean;
  /** End-of-generation ids: eos, eot, eom, <|im_end|>, <|endoftext|>, fim pad/rep/sep, … as llama.cpp finds them. */
  readonly eogIds: ReadonlySet<number>;
  readonly fim: Readonly<FimIds>;
  /** Token order of fill-in-the-middle prompts ('psm' unless the GGUF says otherwise). */
  readonly fimOrder: FimOrder;
  /** The pre-tokenizer in use ("llama3" for "llama-bpe", "gpt2" for a fallback, "none" for SentencePiece, …). */
  readonly preTokenizer: string;

  private readonly tokens: readonly string[];
  private readonly tokenToId: ReadonlyMap<string, number>;
  private readonly attrs: Uint8Array;
  private readonly text: TextModel;
  /** Tokens cut out of text before BPE, longest first: all of them, and only user-defined ones. */
  private readonly specialsParsed: readonly number[];
  private readonly specialsAlways: readonly number[];
  /** Finds which special tokens occur in a text in one pass (vocabularies can have hundreds). */
  private readonly specialTrie: SpecialTrie;
  private readonly pieces: (Uint8Array | undefined)[];

  static fromData(d: TokenizerData, opts: TokenizerOptions = {}): Tokenizer {
    return new Tokenizer(d, opts.warn ?? ((msg) => console.warn(msg)));
  }

  private constructor(d: TokenizerData, warn: (msg: string) => void) {
    const type = vocabTypeOf(d.model);
    if (type === undefined) {
      throw new TokenizerError(`tokenizer model "${d.model}" is not supported (only ${SUPPORTED_MODELS.map((m) => `"${m}"`).join(', ')})`);
    }
    const defaults = VOCAB_DEFAULTS[type];
    const n = d.tokens.length;
    if (n === 0) throw new TokenizerError('tokenizer has no tokens');
    if (d.tokenTypes !== undefined && d.tokenTypes.length < n) {
      throw new TokenizerError(`token_type has ${d.tokenTypes.length} entries for ${n} tokens`);
    }
    if (d.scores !== undefined && d.scores.length < n) {
      throw new TokenizerError(`scores has ${d.scores.length} entries for ${n} tokens`);
    }
    const tokens = d.tokens.map((t, i) => {
      if (t !== '') return t;
      warn(`tokenizer: empty token at index ${i}`);
      return `[EMPTY_${i}]`;
    });
    const tokenToId = new Map<string, number>();
    tokens.forEach((t, i) => tokenToId.set(t, i));
    const attrs = new Uint8Array(n);
    for (let i = 0; i < n; i++) attrs[i] = d.tokenTypes ? attrFromType(d.tokenTypes[i]!) : TokenAttr.Normal;

    const inRange = (key: string, id: number | undefined): number | undefined => {
      if (id === undefined) return undefined;
      if (Number.isInteger(id) && id >= 0 && id < n) return id;
      warn(`tokenizer: ${key} = ${id} is outside the vocabulary (${n}); ignored`);
      return undefined;
    };
    // a type's default id (SentencePiece: bos 1, eos 2, unk 0) stands when the GGUF gives none or a bad one
    const orDefault = (key: string, id: number | undefined, fallback: number | undefined): number | undefined =>
      inRange(key, id) ?? (fallback !== undefined && fallback < n ? fallback : undefined);
    const fimGiven: FimIds = {};
    for (const [k, v] of Object.entries(d.fim ?? {}) as [keyof FimIds, number | undefined][]) {
      const id = inRange(`fim.${k}`, v);
      if (id !== undefined) fimGiven[k] = id;
    }
    this.type = type;
    this.bosId = orDefault('bos', d.bosId, defaults.bosId);
    this.eosId = orDefault('eos', d.eosId, defaults.eosId);
    this.unkId = orDefault('unk', d.unkId, defaults.unkId);
    this.padId = inRange('pad', d.padId);
    const special = detectSpecialIds(tokens, tokenToId, attrs, { eosId: this.eosId, eotId: inRange('eot', d.eotId), fim: fimGiven }, warn);
    this.eotId = special.eotId;
    this.eogIds = special.eogIds;
    this.fim = special.fim;
    this.fimOrder = 'psm';
    try {
      this.fimOrder = parseFimOrder(d.fimOrder);
    } catch (e) {
      warn(`tokenizer: ${(e as Error).message}; using "psm"`);
    }

    this.addSpacePrefix = d.addSpacePrefix ?? defaults.addSpacePrefix;
    this.text = createTextModel(type, tokens, tokenToId, { pre: d.pre, merges: d.merges, scores: d.scores, addSpacePrefix: this.addSpacePrefix, unkId: this.unkId }, warn);
    this.preTokenizer = this.text.preTokenizer;
    this.addBos = d.addBos ?? this.text.defaultAddBos;
    this.addEos = d.addEos ?? defaults.addEos;
    this.vocabSize = n;
    this.tokens = tokens;
    this.tokenToId = tokenToId;
    this.attrs = attrs;
    this.pieces = new Array(n);

    const byteLength = tokens.map((t) => utf8Bytes(t).length);
    const specials: number[] = [];
    for (let i = 0; i < n; i++) if (attrs[i]! & SPECIAL_ATTRS) specials.push(i);
    specials.sort((a, b) => byteLength[b]! - byteLength[a]! || a - b);
    this.specialsParsed = specials;
    this.specialsAlways = specials.filter((i) => (attrs[i]! & SKIPPED_ATTRS) === 0);
    this.specialTrie = new SpecialTrie(specials.map((id) => [tokens[id]!, id]));
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.encodeSpans([{ text, parseSpecial: opts.parseSpecial ?? false }], opts);
  }

  /**
   * Encodes the concatenation of `spans`, matching control tokens only inside spans that allow it (a
   * chat template's own text) and never inside the others (message text). Text on both sides of a span
   * boundary is tokenized as one piece, so with no control-token text inside the plain spans the ids
   * equal `encode(allText, { parseSpecial: true })`.
   */
  encodeSpans(spans: readonly TextSpan[], opts: Pick<EncodeOptions, 'addBos' | 'addEos'> = {}): number[] {
    const out: number[] = [];
    if ((opts.addBos ?? this.addBos) && this.bosId !== undefined) out.push(this.bosId);
    let text = '';
    let startsText = true; // text at the start, or right after a special token (SentencePiece's space prefix)
    const flush = () => {
      if (text.length > 0) this.text.encodeFragment(text, startsText, out);
      text = '';
    };
    for (const span of spans) {
      if (span.text.length === 0) continue;
      for (const fragment of this.partition(span.text, span.parseSpecial)) {
        if (typeof fragment === 'number') {
          flush();
          out.push(fragment);
          startsText = true;
        } else text += fragment;
      }
    }
    flush();
    if ((opts.addEos ?? this.addEos) && this.eosId !== undefined) out.push(this.eosId);
    return out;
  }

  decode(ids: readonly number[], opts: DecodeOptions = {}): string {
    const skip = opts.skipSpecial ?? false;
    const parts: Uint8Array[] = [];
    let size = 0;
    let first = this.addSpacePrefix;
    for (const id of ids) {
      const skipped = skip && this.isSpecial(id);
      const dropSpace = first;
      first = false;
      if (skipped) continue;
      let b = this.tokenToBytes(id);
      if (dropSpace && b[0] === 0x20) b = b.subarray(1);
      parts.push(b);
      size += b.length;
    }
    const all = new Uint8Array(size);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return new TextDecoder('utf-8', { ignoreBOM: true }).decode(all);
  }

  /**
   * Raw bytes of one token: byte-level tokens decoded to their bytes, control / user-defined /
   * unknown tokens as their text, byte tokens ("<0xNN>") as one byte, unused tokens as nothing.
   * The returned array is shared: do not modify it.
   */
  tokenToBytes(id: number): Uint8Array {
    this.check(id);
    return (this.pieces[id] ??= this.piece(id));
  }

  /** The vocabulary's own text of a token (BPE: byte-level form, e.g. "Ġthe"; SentencePiece: '▁' for spaces, e.g. "▁the"). */
  tokenText(id: number): string {
    this.check(id);
    return this.tokens[id]!;
  }

  /** Id of a vocabulary text (in the vocabulary's own form, as tokenText gives it), if present. */
  tokenId(text: string): number | undefined {
    return this.tokenToId.get(text);
  }

  isControl(id: number): boolean {
    this.check(id);
    return (this.attrs[id]! & TokenAttr.Control) !== 0;
  }

  /** Control or unknown: what `skipSpecial` leaves out of decoded text. */
  isSpecial(id: number): boolean {
    this.check(id);
    return (this.attrs[id]! & SKIPPED_ATTRS) !== 0;
  }

  isEog(id: number): boolean {
    return this.eogIds.has(id);
  }

  /** Cut special tokens out of the text: longest token first, each over every remaining text piece. */
  private partition(text: string, parseSpecial: boolean): (string | number)[] {
    const present = this.specialTrie.occurring(text);
    if (present.size === 0) return [text];
    let fragments: (string | number)[] = [text];
    for (const id of parseSpecial ? this.specialsParsed : this.specialsAlways) {
      if (!present.has(id)) continue;
      const s = this.tokens[id]!;
      const next: (string | number)[] = [];
      for (const f of fragments) {
        if (typeof f === 'number') {
          next.push(f);
          continue;
        }
        let from = 0;
        for (let at = f.indexOf(s); at >= 0; at = f.indexOf(s, from)) {
          if (at > from) next.push(f.slice(from, at));
          next.push(id);
          from = at + s.length;
        }
        if (from < f.length) next.push(from === 0 ? f : f.slice(from));
      }
      fragments = next;
    }
    return fragments;
  }

  private piece(id: number): Uint8Array {
    const attr = this.attrs[id]!;
    const text = this.tokens[id]!;
    if (attr & SPECIAL_ATTRS) return utf8Bytes(text);
    if (attr & TokenAttr.Normal) return this.text.normalBytes(text);
    if (attr & TokenAttr.Byte) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(text);
      return m ? Uint8Array.of(parseInt(m[1]!, 16)) : byteLevelToBytes(text);
    }
    return EMPTY;
  }

  private check(id: number): void {
    if (!(Number.isInteger(id) && id >= 0 && id < this.vocabSize)) {
      throw new RangeError(`token id ${id} is outside the vocabulary (${this.vocabSize})`);
    }
  }
}

/** Prefix tree of special-token texts over UTF-16 code units. */
class SpecialTrie {
  private readonly root: TrieNode = { next: new Map(), ids: [] };
  /** Distinct first characters, searched for with indexOf (native, fast) before walking the tree. */
  private readonly firstChars: string[] = [];

  constructor(entries: [string, number][]) {
    for (const [text, id] of entries) {
      let node = this.root;
      for (let i = 0; i < text.length; i++) {
        const c = text.charCodeAt(i);
        let child = node.next.get(c);
        if (child === undefined) node.next.set(c, (child = { next: new Map(), ids: [] }));
        node = child;
      }
      node.ids.push(id);
    }
    for (const c of this.root.next.keys()) this.firstChars.push(String.fromCharCode(c));
  }

  /** Ids of every special token occurring anywhere in `text`, overlapping occurrences included. */
  occurring(text: string): Set<number> {
    const found = new Set<number>();
    for (const first of this.firstChars) {
      for (let start = text.indexOf(first); start >= 0; start = text.indexOf(first, start + 1)) {
        let node = this.root.next.get(text.charCodeAt(start));
        for (let i = start + 1; node !== undefined; i++) {
          for (const id of node.ids) found.add(id);
          if (i >= text.length) break;
          node = node.next.get(text.charCodeAt(i));
        }
      }
    }
    return found;
  }
}

interface TrieNode {
  next: Map<number, TrieNode>;
  ids: number[];
}
