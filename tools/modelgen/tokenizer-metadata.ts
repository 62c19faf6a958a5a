/**
 * The tokenizer's GGUF metadata for a generated model, by vocabulary style (ModelSpec.tokenizer),
 * with the keys real conversions write:
 *   gpt2       Qwen-like byte-level BPE: tokens, token_type, merges, ChatML and FIM control tokens
 *   llama      Llama-2 / Mixtral SentencePiece: tokens, scores, token_type, unk/bos/eos ids,
 *              add_bos_token, add_eos_token, add_space_prefix, an [INST] chat template
 *   codellama  the same plus CodeLlama's FIM ids (prefix/suffix/middle/eot_token_id, as
 *              convert_hf_to_gguf.py writes them for CodeLlama)
 */
import { meta } from '../../daemon/gguf/gguf-writer.js';
import type { GgufMetaEntry } from '../../daemon/gguf/gguf-writer.js';
import type { ModelSpec } from './model-spec.js';
import { buildSpmVocab } from './spm-vocab.js';
import { CHATML_TEMPLATE, buildVocab } from './tokenizer-vocab.js';

/**
 * [INST] turns as Mistral / Mixtral-Instruct use them; a system message goes in front of the first
 * user message (the engine always sends one).
 */
export const INST_TEMPLATE =
  "{{ bos_token }}{% set system = namespace(text='') %}{% for message in messages %}" +
  "{% if message['role'] == 'system' %}{% set system.text = message['content'] + '\\n\\n' %}" +
  "{% elif message['role'] == 'user' %}{{ '[INST] ' + system.text + message['content'] + ' [/INST]' }}{% set system.text = '' %}" +
  "{% else %}{{ message['content'] + eos_token }}{% endif %}{% endfor %}";

export function tokenizerMetadata(s: ModelSpec): GgufMetaEntry[] {
  return s.tokenizer === 'gpt2' ? bpeMetadata(s) : spmMetadata(s);
}

function bpeMetadata(s: ModelSpec): GgufMetaEntry[] {
  const v = buildVocab(s.n_vocab, s.tokenizer_pre);
  const sp = v.special;
  return [
    meta.str('tokenizer.ggml.model', 'gpt2'),
    meta.str('tokenizer.ggml.pre', s.tokenizer_pre),
    meta.arrStr('tokenizer.ggml.tokens', v.tokens),
    meta.arrI32('tokenizer.ggml.token_type', v.tokenTypes),
    meta.arrStr('tokenizer.ggml.merges', v.merges),
    meta.u32('tokenizer.ggml.bos_token_id', sp['<|endoftext|>']),
    meta.u32('tokenizer.ggml.eos_token_id', sp['<|endoftext|>']),
    meta.u32('tokenizer.ggml.eot_token_id', sp['<|im_end|>']),
    meta.u32('tokenizer.ggml.padding_token_id', sp['<|endoftext|>']),
    meta.bool('tokenizer.ggml.add_bos_token', false),
    meta.u32('tokenizer.ggml.fim_pre_token_id', sp['<|fim_prefix|>']),
    meta.u32('tokenizer.ggml.fim_suf_token_id', sp['<|fim_suffix|>']),
    meta.u32('tokenizer.ggml.fim_mid_token_id', sp['<|fim_middle|>']),
    meta.u32('tokenizer.ggml.fim_pad_token_id', sp['<|fim_pad|>']),
    meta.u32('tokenizer.ggml.fim_rep_token_id', sp['<|repo_name|>']),
    meta.u32('tokenizer.ggml.fim_sep_token_id', sp['<|file_sep|>']),
    meta.str('tokenizer.chat_template', CHATML_TEMPLATE),
  ];
}

function spmMetadata(s: ModelSpec): GgufMetaEntry[] {
  const style = s.tokenizer === 'codellama' ? 'codellama' : 'llama';
  const v = buildSpmVocab(s.n_vocab, style);
  const m = [
    meta.str('tokenizer.ggml.model', 'llama'),
    meta.str('tokenizer.ggml.pre', 'default'),
    meta.arrStr('tokenizer.ggml.tokens', v.tokens),
    meta.arrF32('tokenizer.ggml.scores', v.scores),
    meta.arrI32('tokenizer.ggml.token_type', v.tokenTypes),
    meta.u32('tokenizer.ggml.bos_token_id', v.bosId),
    meta.u32('tokenizer.ggml.eos_token_id', v.eosId),
    meta.u32('tokenizer.ggml.unknown_token_id', v.unkId),
    meta.bool('tokenizer.ggml.add_bos_token', true),
    meta.bool('tokenizer.ggml.add_eos_token', false),
    meta.bool('tokenizer.ggml.add_space_prefix', true),
  ];
  if (v.fim) {
    m.push(
      meta.u32('tokenizer.ggml.prefix_token_id', v.fim.prefix),
      meta.u32('tokenizer.ggml.suffix_token_id', v.fim.suffix),
      meta.u32('tokenizer.ggml.middle_token_id', v.fim.middle),
      meta.u32('tokenizer.ggml.eot_token_id', v.fim.eot),
    );
  }
  m.push(meta.str('tokenizer.chat_template', INST_TEMPLATE));
  return m;
}
