/**
 * A SentencePiece vocabulary for generated models, laid out as Llama-2 / Mistral / Mixtral GGUFs hold
 * it (`tokenizer.ggml.model = "llama"`):
 *   id 0                <unk>            token_type 2 (unknown), score 0
 *   ids 1, 2            <s>, </s>        token_type 3 (control), score 0
 *   ids 3..258          <0x00>..<0xFF>   token_type 6 (byte), score 0: the byte fallback
 *   ids 259..           pieces learned by BPE on CODE_CORPUS + PROSE_CORPUS, with '▁' (U+2581) for
 *                       spaces, best first; score = ln(count / symbols in the corpus), so pieces
 *                       seen equally often have equal scores (as float32), as in real vocabularies
 *                       pieces tie
 *   then                every character of the corpus as a one-character piece (by frequency), then
 *                       filler pieces (two pieces joined) with lower scores, up to n_vocab
 *   last 4 (codellama)  ▁<PRE> ▁<SUF> ▁<MID> ▁<EOT>, control, score 0, as CodeLlama's 32007..32010
 * Training follows SentencePiece's BPE trainer in spirit: each line gets a leading space, spaces
 * become '▁', words start at a '▁' (a run of spaces is a word of its own, its last '▁' going to the
 * next word, so "    return" is "▁▁▁" + "▁return"), digits are split one by one (split_digits, as
 * Llama), newlines never enter a piece ("\n" is the byte token <0x0A>, as in Llama), and the most
 * frequent adjacent pair (ties: the lexicographically smallest) is merged until no pair occurs twice.
 * Deterministic: depends only on n_vocab and the style.
 */
import { CODE_CORPUS } from './code-corpus.js';
import { PROSE_CORPUS } from './prose-corpus.js';

export const SPM_STYLES = ['llama', 'codellama'] as const;
export type SpmStyle = (typeof SPM_STYLES)[number];

/** llama.cpp token types (llama_token_type). */
const TYPE_NORMAL = 1;
const TYPE_UNKNOWN = 2;
const TYPE_CONTROL = 3;
const TYPE_BYTE = 6;

const SPACE = '\u2581';
export const CODELLAMA_FIM_TOKENS = ['▁<PRE>', '▁<SUF>', '▁<MID>', '▁<EOT>'] as const;

export interface SpmVocab {
  tokens: string[]; // [n_vocab]
  scores: number[]; // [n_vocab], float32 values
  tokenTypes: number[]; // [n_vocab]
  unkId: number;
  bosId: number;
  eosId: number;
  /** CodeLlama style only. */
  fim?: { prefix: number; suffix: number; middle: number; eot: number };
  /** Pieces learned from the corpus (the rest of the normal pieces are characters and fillers). */
  nLearned: number;
}

const HEX = '0123456789ABCDEF';

/** Fewest tokens a vocabulary of this style can have. */
export function minSpmVocab(style: SpmStyle): number {
  return 3 + 256 + corpusCharacters().length + 16 + (style === 'codellama' ? CODELLAMA_FIM_TOKENS.length : 0);
}

const cache = new Map<string, SpmVocab>();

export function buildSpmVocab(nVocab: number, style: SpmStyle = 'llama'): SpmVocab {
  const key = `${nVocab}/${style}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const min = minSpmVocab(style);
  if (!Number.isInteger(nVocab) || nVocab < min) {
    throw new Error(`a ${style} SentencePiece vocabulary needs n_vocab ≥ ${min} (3 special, 256 byte, ${corpusCharacters().length} character tokens, some pieces), got ${nVocab}`);
  }
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const scores: number[] = [0, 0, 0];
  const tokenTypes: number[] = [TYPE_UNKNOWN, TYPE_CONTROL, TYPE_CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${HEX[b >> 4]}${HEX[b & 15]}>`);
    scores.push(0);
    tokenTypes.push(TYPE_BYTE);
  }
  const known = new Set(tokens);
  const nFim = style === 'codellama' ? CODELLAMA_FIM_TOKENS.length : 0;
  const chars = corpusCharacters();
  const nPieces = nVocab - tokens.length - nFim - chars.length;

  const { merged, totalSymbols } = trainPieces(nPieces);
  const add = (text: string, score: number): void => {
    if (known.has(text)) return;
    tokens.push(text);
    scores.push(Math.fround(score));
    tokenTypes.push(TYPE_NORMAL);
    known.add(text);
  };
  for (const [text, count] of merged) add(text, Math.log(count / totalSymbols));
  const nLearned = merged.length;
  for (const [ch, count] of chars) add(ch, Math.log(count / totalSymbols));

  // fillers: two existing pieces joined, deterministic, each scoring below everything learned
  let floor = Math.min(...scores.slice(259)) - 1;
  const pool = tokens.slice(259);
  for (let i = 0, pick = 0; tokens.length < nVocab - nFim; i++) {
    pick = (pick * 1103515245 + 12345 + i) & 0x7fffffff;
    const a = pool[pick % pool.length]!;
    const b = pool[(pick >>> 8) % pool.length]!;
    const t = a + b;
    if (t.length > 16 || known.has(t)) continue;
    floor -= 0.01;
    add(t, floor);
    pool.push(t);
  }

  let fim: SpmVocab['fim'];
  if (style === 'codellama') {
    const at = tokens.length;
    for (const t of CODELLAMA_FIM_TOKENS) {
      tokens.push(t);
      scores.push(0);
      tokenTypes.push(TYPE_CONTROL);
    }
    fim = { prefix: at, suffix: at + 1, middle: at + 2, eot: at + 3 };
  }
  const vocab: SpmVocab = { tokens, scores, tokenTypes, unkId: 0, bosId: 1, eosId: 2, fim, nLearned };
  cache.set(key, vocab);
  return vocab;
}

/** Training words of the corpus, with counts (see the file comment for how lines are cut). */
function corpusWords(): Map<string, number> {
  const counts = new Map<string, number>();
  const word = /▁+(?=▁[^▁])|▁?[^▁\p{Nd}]+|\p{Nd}|▁+/gu;
  for (const line of (CODE_CORPUS + '\n' + PROSE_CORPUS).split('\n')) {
    if (line.trim() === '') continue;
    for (const m of (' ' + line).replaceAll(' ', SPACE).matchAll(word)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  }
  return counts;
}

let charsCache: [string, number][] | undefined;

/** Every character of the training words with its count, most frequent first (ties: by code point). */
function corpusCharacters(): [string, number][] {
  if (charsCache) return charsCache;
  const counts = new Map<string, number>();
  for (const [w, n] of corpusWords()) for (const ch of w) counts.set(ch, (counts.get(ch) ?? 0) + n);
  charsCache = [...counts].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return charsCache;
}

/**
 * Up to `maxPieces` pieces by BPE: the most frequent adjacent pair of symbols (ties: the smallest
 * "left right" string) is merged everywhere, until no pair occurs twice. Then, while more pieces are
 * wanted, the words seen once are merged whole, left to right (so "▁façade" brings "▁f" … "▁faç",
 * "▁faça", …), all with the score of a single occurrence. Returns each piece with the count of the
 * pair that made it, and the corpus size in characters (the scores' denominator).
 */
function trainPieces(maxPieces: number): { merged: [string, number][]; totalSymbols: number } {
  const words: { syms: string[]; n: number }[] = [];
  let totalSymbols = 0;
  for (const [w, n] of corpusWords()) {
    const syms = Array.from(w);
    words.push({ syms, n });
    totalSymbols += syms.length * n;
  }
  const merged: [string, number][] = [];
  const made = new Set<string>();
  while (merged.length < maxPieces) {
    const pairs = new Map<string, number>();
    for (const { syms, n } of words) {
      for (let i = 0; i + 1 < syms.length; i++) {
        const k = syms[i] + '\u0000' + syms[i + 1];
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
    if (bestN < 2) {
      wholeWords(words, maxPieces, merged, made);
      break;
    }
    const [a, b] = best.split('\u0000') as [string, string];
    const piece = a + b;
    if (!made.has(piece)) {
      made.add(piece);
      merged.push([piece, bestN]);
    }
    for (const w of words) {
      const s = w.syms;
      if (s.length < 2) continue;
      const out: string[] = [];
      for (let i = 0; i < s.length; i++) {
        if (i + 1 < s.length && s[i] === a && s[i + 1] === b) {
          out.push(piece);
          i++;
        } else out.push(s[i]!);
      }
      w.syms = out;
    }
  }
  return { merged, totalSymbols };
}

/** The second phase of trainPieces: words still in several pieces become one piece each. */
function wholeWords(words: { syms: string[]; n: number }[], maxPieces: number, merged: [string, number][], made: Set<string>): void {
  const rest = words.filter((w) => w.syms.length > 1).sort((x, y) => y.n - x.n || (x.syms.join('') < y.syms.join('') ? -1 : 1));
  for (const { syms, n } of rest) {
    let piece = syms[0]!;
    for (let i = 1; i < syms.length; i++) {
      piece += syms[i]!;
      if (merged.length >= maxPieces) return;
      if (made.has(piece)) continue;
      made.add(piece);
      merged.push([piece, n]);
    }
  }
}
