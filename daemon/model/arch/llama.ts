/** llama with experts (Mixtral): pre-norm, NORM RoPE, SiLU experts, top-k weights renormalised. */
import { preNormDecoder } from '../blocks.js';
import type { ForwardBuilder } from '../architectures.js';

export const buildLlama: ForwardBuilder = preNormDecoder;
