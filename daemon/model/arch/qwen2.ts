/**
 * qwen2 (Qwen2.5, Qwen2.5-Coder): dense pre-norm decoder, q/k/v projections with biases, NEOX RoPE,
 * GQA attention, SiLU-gated FFN; output tied to the embedding when absent.
 */
import { preNormDecoder } from '../blocks.js';
import type { ForwardBuilder } from '../architectures.js';

export const buildQwen2: ForwardBuilder = preNormDecoder;
