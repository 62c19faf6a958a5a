/**
 * The "KV bomb" of the hardening issue: a GGUF of ~10 MB whose header announces 512 layers of 4 KV heads
 * of 64 (512 KiB of f16 KV cache per token and slot) and a 32768-token training context. Planned naively
 * (4 slots × 4096 tokens) it asks for 8 GiB of KV cache; 4 slots at its training context, 64 GiB.
 */
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';

export const KV_BOMB_SPEC: ModelSpecInput = {
  arch: 'llama',
  preset: 'tiny',
  weightType: 'Q4_0',
  n_expert: 0,
  n_layer: 512,
  n_embd: 32,
  n_head: 4,
  n_head_kv: 4,
  head_dim: 64,
  n_ff_exp: 32,
  n_ctx: 32768,
  name: 'kv-bomb',
};

/** f16 KV bytes of one token in one slot. */
export const KV_BOMB_BYTES_PER_TOKEN = 512 * 2 * 4 * 64 * 2;

export function ensureKvBomb(): Promise<string> {
  return ensureModel(KV_BOMB_SPEC);
}
