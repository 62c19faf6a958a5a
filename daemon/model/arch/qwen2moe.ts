/** qwen2moe: pre-norm, NEOX RoPE, routed experts without renormalisation plus a sigmoid-gated shared expert. */
import { preNormDecoder } from '../blocks.js';
import type { ForwardBuilder } from '../architectures.js';

export const buildQwen2Moe: ForwardBuilder = preNormDecoder;
