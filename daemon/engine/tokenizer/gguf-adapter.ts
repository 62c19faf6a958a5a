/**
 * TokenizerData from GGUF metadata (key → value, as the GGUF reader returns it). Takes a plain Map so
 * it does not depend on the reader's types.
 */
import { TokenizerError, type TokenizerData } from './tokenizer.js';
import type { FimIds } from './special-tokens.js';
import { FIM_ORDER_KEY } from '../../gguf/moecode-keys.js';

const FIM_KEYS: [keyof FimIds, string[]][] = [
  // the older prefix/suffix/middle keys are read after the newer ones, so they win, as in llama.cpp
  ['prefix', ['tokenizer.ggml.fim_pre_token_id', 'tokenizer.ggml.prefix_token_id']],
  ['suffix', ['tokenizer.ggml.fim_suf_token_id', 'tokenizer.ggml.suffix_token_id']],
  ['middle', ['tokenizer.ggml.fim_mid_token_id', 'tokenizer.ggml.middle_token_id']],
  ['pad', ['tokenizer.ggml.fim_pad_token_id']],
  ['rep', ['tokenizer.ggml.fim_rep_token_id']],
  ['sep', ['tokenizer.ggml.fim_sep_token_id']],
];

export function tokenizerDataFromGguf(metadata: ReadonlyMap<string, unknown>): TokenizerData {
  const model = str(metadata, 'tokenizer.ggml.model');
  if (model === undefined) throw new TokenizerError('GGUF has no tokenizer.ggml.model');
  const tokens = strings(metadata, 'tokenizer.ggml.tokens');
  if (tokens === undefined) throw new TokenizerError('GGUF has no tokenizer.ggml.tokens');
  const merges = strings(metadata, 'tokenizer.ggml.merges');
  if (merges === undefined && model === 'gpt2') throw new TokenizerError('GGUF has no tokenizer.ggml.merges');
  const fim: FimIds = {};
  for (const [field, keys] of FIM_KEYS) {
    for (const key of keys) {
      const id = num(metadata, key);
      if (id !== undefined) fim[field] = id;
    }
  }
  const tokenTypes = metadata.get('tokenizer.ggml.token_type');
  if (tokenTypes !== undefined && !isNumberArray(tokenTypes)) {
    throw new TokenizerError('tokenizer.ggml.token_type is not an array of integers');
  }
  const scores = metadata.get('tokenizer.ggml.scores');
  if (scores !== undefined && !isNumberArray(scores)) {
    throw new TokenizerError('tokenizer.ggml.scores is not an array of numbers');
  }
  return {
    model,
    pre: str(metadata, 'tokenizer.ggml.pre'),
    tokens,
    tokenTypes,
    merges: merges ?? [],
    scores,
    bosId: num(metadata, 'tokenizer.ggml.bos_token_id'),
    eosId: num(metadata, 'tokenizer.ggml.eos_token_id'),
    eotId: num(metadata, 'tokenizer.ggml.eot_token_id'),
    padId: num(metadata, 'tokenizer.ggml.padding_token_id'),
    unkId: num(metadata, 'tokenizer.ggml.unknown_token_id'),
    addBos: bool(metadata, 'tokenizer.ggml.add_bos_token'),
    addEos: bool(metadata, 'tokenizer.ggml.add_eos_token'),
    addSpacePrefix: bool(metadata, 'tokenizer.ggml.add_space_prefix'),
    fim,
    fimOrder: str(metadata, FIM_ORDER_KEY),
  };
}

/** `tokenizer.chat_template`, if the GGUF has one. */
export function chatTemplateFromGguf(metadata: ReadonlyMap<string, unknown>): string | undefined {
  return str(metadata, 'tokenizer.chat_template');
}

function str(m: ReadonlyMap<string, unknown>, key: string): string | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new TokenizerError(`${key} is not a string`);
  return v;
}

function num(m: ReadonlyMap<string, unknown>, key: string): number | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v !== 'number') throw new TokenizerError(`${key} is not a number`);
  return v;
}

function bool(m: ReadonlyMap<string, unknown>, key: string): boolean | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== 'boolean') throw new TokenizerError(`${key} is not a boolean`);
  return v;
}

function strings(m: ReadonlyMap<string, unknown>, key: string): string[] | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new TokenizerError(`${key} is not an array of strings`);
  return v as string[];
}

function isNumberArray(v: unknown): v is ArrayLike<number> {
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return !(v instanceof BigInt64Array || v instanceof BigUint64Array);
  return Array.isArray(v) && v.every((x) => typeof x === 'number');
}
