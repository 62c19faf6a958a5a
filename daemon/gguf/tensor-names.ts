/** GGUF tensor names as llama.cpp spells them (src/llama-arch.cpp, LLM_TENSOR_NAMES). */

export const TENSOR = {
  token_embd: 'token_embd.weight',
  output_norm: 'output_norm.weight',
  output: 'output.weight',
  /** llama3-style RoPE frequency factors {n_rot/2}, one tensor shared by all layers. */
  rope_freqs: 'rope_freqs.weight',
} as const;

/** Per-block tensor base names (without the `.weight` / `.bias` suffix). */
export const BLOCK_TENSORS = [
  'attn_norm', 'attn_q', 'attn_k', 'attn_v', 'attn_qkv', 'attn_output',
  'attn_q_norm', 'attn_k_norm', 'attn_output_norm',
  'ffn_norm', 'ffn_gate', 'ffn_up', 'ffn_down',
  'ffn_gate_inp', 'ffn_gate_exps', 'ffn_up_exps', 'ffn_down_exps',
  'ffn_gate_inp_shexp', 'ffn_gate_shexp', 'ffn_up_shexp', 'ffn_down_shexp',
  'layer_output_norm', 'post_ffw_norm',
] as const;
export type BlockTensor = (typeof BLOCK_TENSORS)[number];

/** `blk.{il}.{name}.{suffix}`, e.g. blk(3, 'ffn_up_exps') = 'blk.3.ffn_up_exps.weight'. */
export function blk(il: number, name: BlockTensor, suffix: 'weight' | 'bias' = 'weight'): string {
  return `blk.${il}.${name}.${suffix}`;
}

/** One expert's 2-D tensor in old Mixtral files: blkExpert(3, 'ffn_up', 5) = 'blk.3.ffn_up.5.weight'. */
export function blkExpert(il: number, name: 'ffn_gate' | 'ffn_up' | 'ffn_down', expert: number): string {
  return `blk.${il}.${name}.${expert}.weight`;
}

/** Every per-block weight name of layer `il`, keyed by base name. */
export function tensorNames(il: number): Record<BlockTensor, string> {
  const out = {} as Record<BlockTensor, string>;
  for (const n of BLOCK_TENSORS) out[n] = blk(il, n);
  return out;
}
