/** qwen3moe: pre-norm, per-head RMS norm of q and k before NEOX RoPE, renormalised top-k experts. */
import { preNormDecoder } from '../blocks.js';
import type { ForwardBuilder } from '../architectures.js';

export const buildQwen3Moe: ForwardBuilder = preNormDecoder;
