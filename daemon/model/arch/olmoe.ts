/** olmoe: pre-norm, RMS norm over the whole q and k vectors before NEOX RoPE, top-k weights not renormalised. */
import { preNormDecoder } from '../blocks.js';
import type { ForwardBuilder } from '../architectures.js';

export const buildOlmoe: ForwardBuilder = preNormDecoder;
