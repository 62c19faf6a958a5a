/**
 * The model generator's SentencePiece vocabularies (tools/modelgen/spm-vocab.ts) and tokenizer
 * metadata: laid out as a Llama-2 / Mixtral GGUF (specials, 256 byte tokens, '▁' pieces learned from
 * the corpora with log-probability scores that tie), CodeLlama's FIM tokens, the keys written, the
 * [INST] chat template, and the default 'gpt2' style leaving existing model names unchanged.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { renderChat } from '../../daemon/engine/chat-template.js';
import { modelMetadata } from '../../tools/modelgen/generate-model.js';
import { resolveSpec, specHash } from '../../tools/modelgen/model-spec.js';
import { buildSpmVocab, minSpmVocab } from '../../tools/modelgen/spm-vocab.js';
import { INST_TEMPLATE } from '../../tools/modelgen/tokenizer-metadata.js';

describe('generated SentencePiece vocabulary', () => {
  const v = buildSpmVocab(3000, 'llama');

  test('Llama-2 layout: <unk> <s> </s>, then <0x00>..<0xFF> as byte tokens, then normal pieces', () => {
    assert.equal(v.tokens.length, 3000);
    assert.deepEqual(v.tokens.slice(0, 3), ['<unk>', '<s>', '</s>']);
    assert.deepEqual(v.tokenTypes.slice(0, 3), [2, 3, 3]);
    assert.equal(v.tokens[3], '<0x00>');
    assert.equal(v.tokens[3 + 0x0a], '<0x0A>');
    assert.equal(v.tokens[258], '<0xFF>');
    assert.ok(v.tokenTypes.slice(3, 259).every((t) => t === 6));
    assert.ok(v.tokenTypes.slice(259).every((t) => t === 1));
    assert.equal(new Set(v.tokens).size, v.tokens.length, 'no repeated token text');
    assert.deepEqual([v.unkId, v.bosId, v.eosId, v.fim], [0, 1, 2, undefined]);
  });

  test('pieces learned from code and prose, with ▁ for spaces and no newline in any piece', () => {
    for (const piece of ['▁▁▁▁', '▁return', '▁the', '▁function', 'self', '▁café']) assert.ok(v.tokens.includes(piece), piece);
    assert.ok(v.nLearned > 1500, `${v.nLearned} learned pieces`);
    assert.ok(!v.tokens.some((t) => t.includes(' ') || t.includes('\n')));
    for (const ch of ['▁', 'e', '日', 'é']) assert.ok(v.tokens.includes(ch), `single character ${ch}`);
  });

  test('scores are float32 log-probabilities, best first, with ties as in real vocabularies', () => {
    const learned = v.scores.slice(259, 259 + v.nLearned);
    assert.ok(learned.every((s) => s < 0 && Math.fround(s) === s));
    for (let i = 1; i < learned.length; i++) assert.ok(learned[i]! <= learned[i - 1]!, `score ${i} is not above the one before`);
    assert.ok(new Set(learned).size < learned.length / 4, 'many learned pieces share a score');
  });

  test('deterministic; CodeLlama style ends with ▁<PRE> ▁<SUF> ▁<MID> ▁<EOT> (control)', () => {
    assert.deepEqual(buildSpmVocab(3000, 'llama').tokens, v.tokens);
    const c = buildSpmVocab(3000, 'codellama');
    assert.deepEqual(c.tokens.slice(-4), ['▁<PRE>', '▁<SUF>', '▁<MID>', '▁<EOT>']);
    assert.deepEqual(c.tokenTypes.slice(-4), [3, 3, 3, 3]);
    assert.deepEqual(c.fim, { prefix: 2996, suffix: 2997, middle: 2998, eot: 2999 });
  });

  test('too small a vocabulary is refused with the minimum', () => {
    assert.throws(() => buildSpmVocab(300, 'llama'), new RegExp(`n_vocab ≥ ${minSpmVocab('llama')}`));
    assert.throws(() => resolveSpec({ arch: 'llama', tokenizer: 'llama', n_vocab: 380 }), /a llama vocabulary needs n_vocab ≥/);
    assert.throws(() => resolveSpec({ arch: 'llama', tokenizer: 'sentencepiece' as never }), /tokenizer must be one of gpt2, llama, codellama/);
  });
});

describe('generated tokenizer metadata', () => {
  const keys = (spec: Parameters<typeof resolveSpec>[0]) => new Map(modelMetadata(resolveSpec(spec)).map((e) => [e.key, e.value]));

  test('a SentencePiece model has the keys of a Mixtral GGUF', () => {
    const m = keys({ arch: 'llama', tokenizer: 'llama' });
    assert.equal(m.get('tokenizer.ggml.model'), 'llama');
    for (const k of ['tokens', 'scores', 'token_type']) assert.equal((m.get(`tokenizer.ggml.${k}`) as unknown[]).length, 3000, k);
    assert.equal(m.get('tokenizer.ggml.add_bos_token'), true);
    assert.equal(m.get('tokenizer.ggml.add_eos_token'), false);
    assert.equal(m.get('tokenizer.ggml.add_space_prefix'), true);
    assert.deepEqual(['bos_token_id', 'eos_token_id', 'unknown_token_id'].map((k) => m.get(`tokenizer.ggml.${k}`)), [1, 2, 0]);
    assert.equal(m.has('tokenizer.ggml.merges'), false);
    assert.equal(m.get('tokenizer.chat_template'), INST_TEMPLATE);
    const c = keys({ arch: 'llama', tokenizer: 'codellama' });
    assert.deepEqual(['prefix', 'suffix', 'middle', 'eot'].map((k) => c.get(`tokenizer.ggml.${k}_token_id`)), [2996, 2997, 2998, 2999]);
  });

  test('the [INST] template puts the system message before the first user turn', async () => {
    const text = await renderChat(INST_TEMPLATE, [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
      { role: 'user', content: 'again' },
    ], { bosToken: '<s>', eosToken: '</s>', addGenerationPrompt: true });
    assert.equal(text, '<s>[INST] Be brief.\n\nhi [/INST]hello</s>[INST] again [/INST]');
  });

  test('the default gpt2 style leaves existing specs, names and metadata as they were', () => {
    const spec = resolveSpec({ arch: 'qwen3moe' });
    assert.equal(spec.tokenizer, 'gpt2');
    assert.equal(spec.n_vocab, 512);
    // the hash of a spec from before the tokenizer option (no such key)
    const { tokenizer: _omit, ...before } = spec;
    assert.equal(specHash(spec), specHash(before as typeof spec));
    assert.notEqual(specHash(resolveSpec({ arch: 'qwen3moe', tokenizer: 'llama' })), specHash(spec));
    assert.equal(keys({ arch: 'qwen3moe' }).get('tokenizer.ggml.model'), 'gpt2');
  });
});
