/**
 * granitemoe: pre-norm with embedding, attention, residual and logit scales (logits divided by
 * logit_scale), NORM RoPE, renormalised experts and an optional unweighted shared expert.
 */
import { preNormDecoder } from '../blocks.js';
import type { ForwardBuilder } from '../architectures.js';

export const buildGraniteMoe: ForwardBuilder = preNormDecoder;
