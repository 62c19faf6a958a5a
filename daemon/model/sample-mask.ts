/**
 * The sampler's allowed-token bitset (SamplingParams.mask, shaders/sample.wgsl binding 4): bit (i & 31) of
 * word i >> 5 set = token i may be drawn. The primitives live here, for every backend's sampler (the GPU
 * kernel, model/sample-logits.ts on the host); engine/token-mask.ts builds masks for generations from them.
 */

/** u32 words of a mask over `nVocab` tokens. */
export function maskWords(nVocab: number): number {
  return Math.ceil(nVocab / 32);
}

export function maskAllows(mask: Uint32Array, id: number): boolean {
  return ((mask[id >>> 5]! >>> (id & 31)) & 1) === 1;
}

/** Whether a mask allows at least one of the first `nVocab` tokens (bits past nVocab do not count). */
export function allowsAny(mask: Uint32Array, nVocab: number): boolean {
  const words = maskWords(nVocab);
  const tail = nVocab % 32 === 0 ? 0xffffffff : (1 << nVocab % 32) - 1;
  for (let w = 0; w < words; w++) if (((w === words - 1 ? mask[w]! & tail : mask[w]!) >>> 0) !== 0) return true;
  return false;
}

/** Throws RangeError unless `mask` has the words `nVocab` tokens need and allows one of them. */
export function checkMask(mask: Uint32Array, nVocab: number): void {
  const words = maskWords(nVocab);
  if (mask.length < words) throw new RangeError(`token mask has ${mask.length} words; ${words} needed for ${nVocab} tokens`);
  if (!allowsAny(mask, nVocab)) throw new RangeError('token mask allows no token');
}
