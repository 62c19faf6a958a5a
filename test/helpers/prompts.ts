/** Deterministic token prompts for conformance tests (seeded; ids drawn below `maxId`). */
import { Rng } from '../../tools/modelgen/prng.js';
import { SPECIAL_TOKENS } from '../../tools/modelgen/tokenizer-vocab.js';

/** `count` prompts of `length` token ids in [0, n_vocab − #special) (generated models put specials last). */
export function randomPrompts(nVocab: number, count: number, length: number, seed = 1234): number[][] {
  const rng = new Rng(seed);
  const maxId = nVocab - SPECIAL_TOKENS.length;
  return Array.from({ length: count }, () => Array.from({ length }, () => rng.int(maxId)));
}
