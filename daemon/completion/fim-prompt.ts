/**
 * The prompt of an inline completion. With the model's fill-in-the-middle tokens, in the order the model
 * was trained with (the tokenizer's `fimOrder`, from the GGUF key moecode.fim_order):
 *   PSM (Qwen2.5-Coder, StarCoder; the default):  [BOS] <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|>
 *   SPM (MoeCode Coder, llama.cpp --spm-infill):   [BOS] <|fim_suffix|> suffix <|fim_prefix|> prefix <|fim_middle|>
 * and without them the prefix alone. The token budget is split: the suffix gets at most a quarter
 * and at most 128 tokens (10–15 lines), the prefix the rest. The suffix is kept short on purpose: in
 * PSM order its KV entries come after the prefix, so every keystroke re-evaluates all of it, while
 * the code far below the cursor adds little to a suggestion. In SPM order typing only appends to the prompt.
 *
 * KV reuse depends on the prompt staying the same while the user types, so the prefix window starts
 * at a line boundary and is anchored: the caller passes the previous window's start back and it is
 * kept as long as the prefix still fits; when it no longer does, the window moves forward by a quarter
 * of the budget at once (not one line per keystroke, which would change the whole prompt every time).
 *
 * Only the end of the prefix is ever tokenized (growing windows from the cursor back until the budget
 * is met), so a 50 MB document costs what a small one does.
 */
import type { Tokenizer } from '../engine/tokenizer/tokenizer.js';
import type { FimOrder } from '../gguf/moecode-keys.js';

export interface FimPromptOptions {
  /** Most prompt tokens (prefix + suffix + special tokens). */
  budget: number;
  /** Share of the budget the suffix may take (default 0.25). */
  suffixShare?: number;
  /** Most suffix tokens (default 128). */
  maxSuffixTokens?: number;
  /** Start (character offset in `prefix`) of the previous prompt's prefix window. */
  anchor?: number;
}

export interface FimPrompt {
  ids: number[];
  mode: 'fim' | 'prefix';
  prefixTokens: number;
  /** Index in `ids` just past the last prefix token (before <|fim_suffix|>, or the end without FIM). */
  prefixEnd: number;
  suffixTokens: number;
  /** Character offset in `prefix` where the window starts (pass back as `anchor`). */
  prefixStart: number;
  /** Character length of the suffix text used. */
  suffixChars: number;
}

type PromptTokenizer = Pick<Tokenizer, 'encode' | 'fim' | 'addBos' | 'bosId'> & { fimOrder?: FimOrder };

/** Whether the tokenizer has the three FIM tokens. */
export function hasFim(tokenizer: Pick<Tokenizer, 'fim'>): boolean {
  const f = tokenizer.fim;
  return f.prefix !== undefined && f.suffix !== undefined && f.middle !== undefined;
}

const encodeText = (tok: PromptTokenizer, text: string) => tok.encode(text, { addBos: false, addEos: false, parseSpecial: false });

/** Offset of the first line start at or after `at` (0 stays 0). */
function lineStartAtOrAfter(text: string, at: number): number {
  if (at <= 0) return 0;
  const nl = text.indexOf('\n', at - 1);
  return nl < 0 ? text.length : nl + 1;
}

/** First window tried from the end of the prefix, in characters per token wanted (code averages 3–4). */
const WINDOW_CHARS_PER_TOKEN = 4;
/** Tokens a cut inside a word can add or save at a window's start. */
const CUT_SLACK = 4;

function initialWindow(tokens: number): number {
  return tokens * WINDOW_CHARS_PER_TOKEN + 64;
}

/**
 * The tokens of `prefix.slice(start)` when there are at most `limit` of them, else undefined. Only the
 * end of the prefix is tokenized: windows from the end, doubling, until one holds more than `limit`
 * tokens (so not even the text from `start` fits) or reaches `start`.
 */
function tokensWithin(tok: PromptTokenizer, prefix: string, start: number, limit: number): number[] | undefined {
  for (let w = initialWindow(limit); ; w *= 2) {
    const from = prefix.length - w;
    if (from <= start) {
      const ids = encodeText(tok, prefix.slice(start));
      return ids.length <= limit ? ids : undefined;
    }
    if (encodeText(tok, prefix.slice(from)).length > limit + CUT_SLACK) return undefined;
  }
}

/**
 * A window start such that the prefix from it fits `budget` tokens, leaving `headroom` of it free: a
 * line start, or when the cursor's line alone is longer than that, a character offset in it (the
 * caller keeps the last tokens). Tokenizes only the end of the prefix (a window about twice as long
 * as what fits), never the whole of a large document.
 */
function freshPrefixStart(tok: PromptTokenizer, prefix: string, budget: number, headroom: number): number {
  const target = Math.max(1, Math.floor(budget * (1 - headroom)));
  // grow a window from the end until it holds more than `target` tokens, or the whole prefix
  let w = Math.min(prefix.length, initialWindow(target));
  while (w < prefix.length && encodeText(tok, prefix.slice(prefix.length - w)).length <= target) w = Math.min(prefix.length, w * 2);
  let start = w >= prefix.length ? 0 : lineStartAtOrAfter(prefix, prefix.length - w);
  // no line starts in the window: the cursor's line alone is too long
  if (start >= prefix.length) return prefix.length - w;
  let n = encodeText(tok, prefix.slice(start)).length;
  // proportional steps forward by lines; converges in a few encodes
  for (let iter = 0; n > target && iter < 12; iter++) {
    const remaining = prefix.length - start;
    const keepChars = Math.floor((remaining * target) / n * 0.95);
    const next = lineStartAtOrAfter(prefix, prefix.length - keepChars);
    start = next > start ? next : lineStartAtOrAfter(prefix, start + 1);
    n = encodeText(tok, prefix.slice(start)).length;
  }
  return start;
}

export function buildFimPrompt(tok: PromptTokenizer, prefix: string, suffix: string, opts: FimPromptOptions): FimPrompt {
  const fim = hasFim(tok);
  const bos = tok.addBos && tok.bosId !== undefined ? [tok.bosId] : [];
  const specials = bos.length + (fim ? 3 : 0);
  const budget = Math.max(8, opts.budget - specials);

  let suffixIds: number[] = [];
  let suffixChars = 0;
  if (fim && suffix.length > 0) {
    const maxSuffix = Math.min(opts.maxSuffixTokens ?? 128, Math.floor(budget * (opts.suffixShare ?? 0.25)));
    // a generous character window cut at a line end, then a token cut
    let text = suffix.slice(0, maxSuffix * 8);
    if (text.length < suffix.length) {
      const nl = text.lastIndexOf('\n');
      if (nl > 0) text = text.slice(0, nl + 1);
    }
    suffixIds = encodeText(tok, text);
    if (suffixIds.length > maxSuffix) suffixIds = suffixIds.slice(0, maxSuffix);
    suffixChars = text.length;
  }

  const prefixBudget = budget - suffixIds.length;
  let start: number | undefined;
  let prefixIds: number[] | undefined;
  const anchor = opts.anchor;
  if (anchor !== undefined && anchor >= 0 && anchor <= prefix.length && (anchor === 0 || prefix[anchor - 1] === '\n')) {
    const ids = tokensWithin(tok, prefix, anchor, prefixBudget);
    // keep the anchor while the prefix fits and the window is not needlessly small (the cursor jumped back)
    if (ids !== undefined && (anchor === 0 || ids.length >= prefixBudget / 2)) {
      start = anchor;
      prefixIds = ids;
    }
  }
  if (start === undefined || prefixIds === undefined) {
    start = freshPrefixStart(tok, prefix, prefixBudget, 0.25);
    prefixIds = encodeText(tok, prefix.slice(start));
    // a single enormous line can still exceed the budget: keep its last tokens
    if (prefixIds.length > prefixBudget) prefixIds = prefixIds.slice(prefixIds.length - prefixBudget);
  }

  const prefixPart = fim ? [tok.fim.prefix!, ...prefixIds] : prefixIds;
  const suffixPart = fim ? [tok.fim.suffix!, ...suffixIds] : [];
  const spm = fim && tok.fimOrder === 'spm';
  const ids = !fim ? [...bos, ...prefixIds] : spm ? [...bos, ...suffixPart, ...prefixPart, tok.fim.middle!] : [...bos, ...prefixPart, ...suffixPart, tok.fim.middle!];
  const prefixEnd = bos.length + (spm ? suffixPart.length : 0) + prefixPart.length;
  return { ids, mode: fim ? 'fim' : 'prefix', prefixTokens: prefixIds.length, prefixEnd, suffixTokens: suffixIds.length, prefixStart: start, suffixChars };
}
