/**
 * A GPT-2 style byte-level BPE vocabulary for generated models, in the form llama.cpp reads
 * (`tokenizer.ggml.model = "gpt2"`):
 *   ids 0..255          one token per byte, spelled with GPT-2's byte→unicode alphabet (id = byte value)
 *   ids 256..           merged tokens, in merge order: first merges learned by BPE training on
 *                       CODE_CORPUS, then (for large vocabularies) filler merges of two existing tokens
 *   last ids            special tokens (token_type 3, control): <|endoftext|>, FIM and ChatML markers
 * Deterministic: depends only on n_vocab and the pre-tokenizer.
 */
import { CODE_CORPUS } from './code-corpus.js';
import { Rng } from './prng.js';

/** llama.cpp token types (llama_token_type in llama-vocab.h). */
export const TOKEN_TYPE_NORMAL = 1;
export const TOKEN_TYPE_CONTROL = 3;

export const SPECIAL_TOKENS = [
  '<|endoftext|>',
  '<|im_start|>',
  '<|im_end|>',
  '<|fim_prefix|>',
  '<|fim_middle|>',
  '<|fim_suffix|>',
  '<|fim_pad|>',
  '<|repo_name|>',
  '<|file_sep|>',
] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

/** ChatML, as Qwen-family models ship it. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** Pre-tokenizers the generator can train for; both are accepted by llama.cpp under these names. */
export type TokenizerPre = 'qwen2' | 'default';

/**
 * Splitting regexes. 'qwen2' is the HF Qwen2 regex (llama.cpp LLAMA_VOCAB_PRE_TYPE_QWEN2). 'default' is
 * approximated by the GPT-2 regex for training purposes only (llama.cpp's default runs a cascade of
 * regexes; merges learned with the GPT-2 split are still valid merges there).
 */
const PRE_REGEX: Record<TokenizerPre, RegExp> = {
  qwen2: /(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+/gu,
  default: /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu,
};

export interface Vocab {
  tokens: string[]; // [n_vocab]
  tokenTypes: number[]; // [n_vocab]
  merges: string[]; // "left right", in rank order
  special: Record<SpecialToken, number>;
  nLearnedMerges: number; // merges from corpus training (the rest are fillers)
}

/** GPT-2's bytes_to_unicode: byte value → the printable character that spells it. */
export function byteToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) bs.push(b);
  for (let b = 0xa1; b <= 0xac; b++) bs.push(b);
  for (let b = 0xae; b <= 0xff; b++) bs.push(b);
  const map = new Array<string>(256);
  for (const b of bs) map[b] = String.fromCodePoint(b);
  let n = 0;
  for (let b = 0; b < 256; b++) {
    if (map[b] === undefined) map[b] = String.fromCodePoint(256 + n++);
  }
  return map;
}

const vocabCache = new Map<string, Vocab>();

export function buildVocab(nVocab: number, pre: TokenizerPre = 'qwen2'): Vocab {
  const key = `${nVocab}/${pre}`;
  const cached = vocabCache.get(key);
  if (cached) return cached;
  const nSpecial = SPECIAL_TOKENS.length;
  if (!Number.isInteger(nVocab) || nVocab < 256 + nSpecial + 16) {
    throw new Error(`n_vocab must be an integer ≥ ${256 + nSpecial + 16} (256 bytes, ${nSpecial} special tokens, some merges), got ${nVocab}`);
  }
  const nMerges = nVocab - 256 - nSpecial;
  const b2u = byteToUnicode();
  const tokens = [...b2u];
  const known = new Set(tokens);

  const learned = trainBpe(CODE_CORPUS, PRE_REGEX[pre], b2u, nMerges);
  const merges: string[] = [];
  for (const [a, b] of learned) {
    merges.push(`${a} ${b}`);
    tokens.push(a + b);
    known.add(a + b);
  }
  const nLearnedMerges = merges.length;

  // Filler merges: concatenations of two existing tokens, picked deterministically.
  const rng = new Rng(0x70c0 + nVocab);
  const pool = tokens.slice(0x21); // skip control bytes as the left part of fillers
  while (merges.length < nMerges) {
    const a = pool[rng.int(pool.length)]!;
    const b = pool[rng.int(pool.length)]!;
    const t = a + b;
    if (t.length > 16 || known.has(t)) continue;
    merges.push(`${a} ${b}`);
    tokens.push(t);
    known.add(t);
    pool.push(t);
  }

  const special = {} as Record<SpecialToken, number>;
  for (const s of SPECIAL_TOKENS) {
    special[s] = tokens.length;
    tokens.push(s);
  }
  const tokenTypes = tokens.map((_, i) => (i >= nVocab - nSpecial ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL));
  const vocab: Vocab = { tokens, tokenTypes, merges, special, nLearnedMerges };
  vocabCache.set(key, vocab);
  return vocab;
}

/**
 * Plain BPE training: split the corpus with the pre-tokenizer regex, spell each piece with the byte
 * alphabet, then repeatedly merge the most frequent adjacent pair (ties: lexicographically smallest)
 * until `maxMerges` merges or no pair occurs twice.
 */
function trainBpe(corpus: string, re: RegExp, b2u: string[], maxMerges: number): Array<[string, string]> {
  const counts = new Map<string, number>();
  const enc = new TextEncoder();
  for (const m of corpus.matchAll(re)) {
    const spelled = Array.from(enc.encode(m[0]), (b) => b2u[b]!).join('');
    counts.set(spelled, (counts.get(spelled) ?? 0) + 1);
  }
  const words: Array<{ syms: string[]; n: number }> = [];
  for (const [w, n] of counts) words.push({ syms: Array.from(w), n });

  const merges: Array<[string, string]> = [];
  while (merges.length < maxMerges) {
    const pairs = new Map<string, number>();
    for (const { syms, n } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = syms[i] + ' ' + syms[i + 1];
        pairs.set(k, (pairs.get(k) ?? 0) + n);
      }
    }
    let best = '';
    let bestN = 1;
    for (const [k, n] of pairs) {
      if (n > bestN || (n === bestN && n > 1 && k < best)) {
        best = k;
        bestN = n;
      }
    }
    if (bestN < 2) break;
    const sp = best.indexOf(' ', 1);
    const a = best.slice(0, sp);
    const b = best.slice(sp + 1);
    merges.push([a, b]);
    for (const w of words) {
      const s = w.syms;
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(a + b);
          i++;
        } else {
          out.push(s[i]!);
        }
      }
      w.syms = out;
    }
  }
  return merges;
}
