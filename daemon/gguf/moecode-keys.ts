/**
 * GGUF metadata keys MoeCode writes and reads beyond llama.cpp's own (in a `moecode.` namespace so they can
 * never collide with a future llama.cpp key; other runtimes ignore them).
 */

/**
 * Token order of the model's fill-in-the-middle training:
 *   'psm': <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|>   (Qwen2.5-Coder, StarCoder, CodeLlama)
 *   'spm': <|fim_suffix|> suffix <|fim_prefix|> prefix <|fim_middle|>   (llama.cpp's --spm-infill layout)
 * Absent: 'psm', the common default.
 */
export const FIM_ORDER_KEY = 'moecode.fim_order';

export type FimOrder = 'psm' | 'spm';

export function parseFimOrder(value: unknown): FimOrder {
  if (value === undefined) return 'psm';
  if (value === 'psm' || value === 'spm') return value;
  throw new Error(`${FIM_ORDER_KEY} must be "psm" or "spm", got ${JSON.stringify(value)}`);
}
