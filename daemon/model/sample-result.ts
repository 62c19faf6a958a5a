/**
 * What the sampler hands back besides a token id. When the logits hold a NaN or an infinity (corrupt
 * weights, an overflow in the forward pass) no token is drawn: the sampling kernel (shaders/sample.wgsl)
 * and its CPU reference return NON_FINITE_LOGITS, and the runner turns it into NonFiniteLogitsError,
 * where it used to pass on an id outside the vocabulary ("token id 4294967295 is outside the vocabulary").
 */

/** Returned in place of a token id when the logits row holds a NaN or an infinity. */
export const NON_FINITE_LOGITS = 0xfffffffe;

export class NonFiniteLogitsError extends Error {
  override readonly name = 'NonFiniteLogitsError';
  constructor(detail?: string) {
    super(`the model produced non-finite logits (NaN/inf)${detail ? ` ${detail}` : ''}: the weights may be corrupt`);
  }
}

/** Whether every value is finite (no NaN, no ±infinity). */
export function allFinite(values: ArrayLike<number>): boolean {
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return false;
  return true;
}

/** The sampled token, or NonFiniteLogitsError for the sentinel. */
export function checkSampledToken(token: number): number {
  if (token === NON_FINITE_LOGITS) throw new NonFiniteLogitsError();
  return token;
}
