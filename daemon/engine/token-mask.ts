/**
 * Allowed-token masks for the sampler (SamplingParams.mask): a bitset over the vocabulary, bit (i & 31)
 * of word i >> 5 set = token i may be sampled. Masks are built once per request (or once per tokenizer)
 * and never changed afterwards: the GPU runner uploads a mask only when it gets another array.
 */
import { allowsAny, maskAllows, maskWords } from '../model/sample-mask.js';
import type { Tokenizer } from './tokenizer/tokenizer.js';

export { allowsAny, maskAllows, maskWords };

export type TokenMask = Uint32Array;

/** A mask allowing the tokens `allowed` says yes to. */
export function allowedMask(nVocab: number, allowed: (id: number) => boolean): TokenMask {
  const m = new Uint32Array(maskWords(nVocab));
  for (let i = 0; i < nVocab; i++) if (allowed(i)) m[i >>> 5]! |= 1 << (i & 31);
  return m;
}

/** A mask allowing every token but `banned`. */
export function bannedMask(nVocab: number, banned: Iterable<number>): TokenMask {
  const m = allowedMask(nVocab, () => true);
  for (const i of banned) if (i >= 0 && i < nVocab) m[i >>> 5]! &= ~(1 << (i & 31));
  return m;
}

/** Tokens a mask allows, in id order. */
export function allowedIds(mask: TokenMask, nVocab: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < nVocab; i++) if (maskAllows(mask, i)) out.push(i);
  return out;
}

/** Tokens allowed by every given mask; undefined when none is given, the mask itself when one is. */
export function intersectMasks(...masks: (TokenMask | undefined)[]): TokenMask | undefined {
  const given = masks.filter((m): m is TokenMask => m !== undefined);
  if (given.length <= 1) return given[0];
  const out = given[0]!.slice();
  for (const m of given.slice(1)) {
    if (m.length !== out.length) throw new RangeError(`token masks of ${out.length} and ${m.length} words`);
    for (let w = 0; w < out.length; w++) out[w]! &= m[w]!;
  }
  return out;
}

type MaskTokenizer = Pick<Tokenizer, 'vocabSize' | 'isControl' | 'isEog'>;

/**
 * Control tokens that do not end generation (<|fim_prefix|>, <|fim_middle|>, <|fim_suffix|>,
 * <|im_start|>, …): they mean nothing inside a completion or an answer, so generations never sample them.
 * End-of-generation tokens stay allowed, or a generation could not end.
 */
export function bannedControlTokens(tok: MaskTokenizer): number[] {
  const out: number[] = [];
  for (let i = 0; i < tok.vocabSize; i++) if (tok.isControl(i) && !tok.isEog(i)) out.push(i);
  return out;
}

const noControlMasks = new WeakMap<object, TokenMask | null>();

/**
 * The mask of every token but bannedControlTokens(tok), built once per tokenizer; undefined when there
 * is nothing to ban (the sampler then skips the mask).
 */
export function noControlMask(tok: MaskTokenizer): TokenMask | undefined {
  let m = noControlMasks.get(tok);
  if (m === undefined) {
    const banned = bannedControlTokens(tok);
    noControlMasks.set(tok, (m = banned.length ? bannedMask(tok.vocabSize, banned) : null));
  }
  return m ?? undefined;
}

/** Masks of one generation: `first` for its first sampled token, `every` for all of them. */
export interface GenerationMasks {
  first?: TokenMask;
  every?: TokenMask;
}

/**
 * The mask for each sampled token, by how many tokens were generated before it: the intersections are
 * computed here, once, not per token. A first-token mask that leaves nothing with `every` is dropped.
 */
export function stepMasks(masks: GenerationMasks, nVocab: number): (generated: number) => TokenMask | undefined {
  const every = masks.every;
  let first = intersectMasks(masks.first, every);
  if (first !== undefined && !allowsAny(first, nVocab)) first = every;
  return (generated) => (generated === 0 ? first : every);
}
