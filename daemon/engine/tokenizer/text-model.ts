/**
 * What differs between the vocabulary types a GGUF can name in `tokenizer.ggml.model` (llama.cpp's
 * llama_vocab_type): how a fragment of plain text becomes ids, how a normal token's text becomes
 * bytes, and the defaults the type gives when the GGUF leaves them out (add_bos, add_eos,
 * add_space_prefix, the special ids). The rest of tokenisation (special tokens, BOS/EOS, byte and
 * control tokens, the end-of-generation set) is shared and lives in tokenizer.ts.
 */
import { BpeModel } from './bpe.js';
import { byteLevelToBytes, utf8Bytes } from './byte-level.js';
import { preTokenizerFor } from './pre-tokenizers.js';
import { SPM_SPACE, SpmModel } from './spm.js';

/** llama.cpp's vocabulary types that the engine handles: byte-level BPE ("gpt2") and SentencePiece ("llama"). */
export type VocabType = 'bpe' | 'spm';

const VOCAB_TYPES: Readonly<Record<string, VocabType>> = { gpt2: 'bpe', llama: 'spm' };

/** The vocabulary type of a `tokenizer.ggml.model` value, undefined when it is not supported. */
export function vocabTypeOf(model: string): VocabType | undefined {
  return Object.hasOwn(VOCAB_TYPES, model) ? VOCAB_TYPES[model] : undefined;
}

/** Every supported `tokenizer.ggml.model` value. */
export const SUPPORTED_MODELS: readonly string[] = Object.keys(VOCAB_TYPES);

/** Defaults llama.cpp gives each type when the GGUF does not set them (llama_vocab::impl::load). */
export interface VocabDefaults {
  addEos: boolean;
  addSpacePrefix: boolean;
  bosId?: number;
  eosId?: number;
  unkId?: number;
}

export const VOCAB_DEFAULTS: Readonly<Record<VocabType, VocabDefaults>> = {
  bpe: { addEos: false, addSpacePrefix: false },
  spm: { addEos: false, addSpacePrefix: true, bosId: 1, eosId: 2, unkId: 0 },
};

export interface TextModel {
  readonly type: VocabType;
  /** The pre-tokenizer in use ("llama3", "gpt2", …); "none" for SentencePiece, which has none. */
  readonly preTokenizer: string;
  /** add_bos when the GGUF does not say: true for SentencePiece, the pre-tokenizer's for BPE. */
  readonly defaultAddBos: boolean;
  /**
   * Appends the ids of one fragment of plain text (special tokens already cut out).
   * `startsText`: the fragment is the first of the text or follows a special token.
   */
  encodeFragment(text: string, startsText: boolean, out: number[]): void;
  /** Bytes of a normal token from its vocabulary text. */
  normalBytes(text: string): Uint8Array;
}

export interface TextModelInput {
  pre?: string;
  merges: readonly string[];
  /** `tokenizer.ggml.scores`; missing scores are 0, as in llama.cpp. */
  scores?: ArrayLike<number>;
  addSpacePrefix: boolean;
  unkId?: number;
}

export function createTextModel(
  type: VocabType,
  tokens: readonly string[],
  tokenToId: ReadonlyMap<string, number>,
  d: TextModelInput,
  warn: (msg: string) => void,
): TextModel {
  if (type === 'spm') {
    // llama.cpp keeps scores as float32, so ties between scores are decided in float32
    const scores = new Float32Array(tokens.length);
    if (d.scores) for (let i = 0; i < tokens.length; i++) scores[i] = d.scores[i]!;
    const spm = new SpmModel(tokens, tokenToId, scores, d.unkId, warn);
    const addSpacePrefix = d.addSpacePrefix;
    return {
      type,
      preTokenizer: 'none',
      defaultAddBos: true,
      encodeFragment: (text, startsText, out) => spm.encodeFragment(text, addSpacePrefix && startsText, out),
      normalBytes: (text) => utf8Bytes(text.replaceAll(SPM_SPACE, ' ')),
    };
  }
  const pre = preTokenizerFor(d.pre, warn);
  const bpe = new BpeModel(tokens, tokenToId, d.merges, pre.ignoreMerges);
  return {
    type,
    preTokenizer: pre.name,
    defaultAddBos: pre.addBos,
    encodeFragment: (text, _startsText, out) => {
      for (const word of pre.split(text)) bpe.encodeWord(word, out);
    },
    normalBytes: byteLevelToBytes,
  };
}
