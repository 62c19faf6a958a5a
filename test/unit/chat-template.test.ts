/**
 * Chat templates: ChatML fallback, Llama-3 and Mistral style templates written here, generation
 * prompts, template errors, stop strings. Expected prompts are written out by hand.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CHATML_TEMPLATE, ChatTemplateError, renderChat, stopStringsForTemplate, type ChatMessage } from '../../daemon/engine/chat-template.js';
import { BYTE_TO_CHAR } from '../../daemon/engine/tokenizer/byte-level.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';

const LLAMA3 =
  "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}";

const MISTRAL =
  "{{ bos_token }}{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token }}{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}";

const convo: ChatMessage[] = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: '  Hi there  ' },
];

describe('renderChat', () => {
  test('no template → ChatML, with and without the generation prompt', async () => {
    const opts = { bosToken: '<s>', eosToken: '</s>' };
    const base = '<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\n  Hi there  <|im_end|>\n';
    assert.equal(await renderChat(undefined, convo, { ...opts, addGenerationPrompt: false }), base);
    assert.equal(await renderChat(undefined, convo, { ...opts, addGenerationPrompt: true }), `${base}<|im_start|>assistant\n`);
    assert.equal(await renderChat('  ', convo, { ...opts, addGenerationPrompt: true }), `${base}<|im_start|>assistant\n`);
    assert.equal(await renderChat(CHATML_TEMPLATE, convo, { ...opts, addGenerationPrompt: false }), base);
  });

  test('Llama-3 style: bos once, trimmed content, header for the assistant', async () => {
    const out = await renderChat(LLAMA3, convo, { bosToken: '<|begin_of_text|>', eosToken: '<|eot_id|>', addGenerationPrompt: true });
    assert.equal(
      out,
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>' +
        '<|start_header_id|>assistant<|end_header_id|>\n\n',
    );
  });

  test('Mistral style: [INST] turns, eos after assistant turns', async () => {
    const msgs: ChatMessage[] = [
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'user', content: 'c' },
    ];
    assert.equal(await renderChat(MISTRAL, msgs, { bosToken: '<s>', eosToken: '</s>', addGenerationPrompt: true }), '<s>[INST] a [/INST]b</s>[INST] c [/INST]');
  });

  test('raise_exception in a template → ChatTemplateError naming the problem', async () => {
    const twoUsers: ChatMessage[] = [{ role: 'user', content: 'a' }, { role: 'user', content: 'b' }];
    await assert.rejects(
      () => renderChat(MISTRAL, twoUsers, { bosToken: '<s>', eosToken: '</s>', addGenerationPrompt: true }),
      (e: unknown) => e instanceof ChatTemplateError && e.phase === 'render' && /alternate/.test(e.message) && /user, user/.test(e.message),
    );
  });

  test('a template that raises on the system role gets the system prompt folded into the first user turn', async () => {
    const opts = { bosToken: '<s>', eosToken: '</s>', addGenerationPrompt: true };
    // Mistral's alternation check
    assert.equal(await renderChat(MISTRAL, convo, opts), '<s>[INST] You are terse.\n  Hi there   [/INST]');
    const longer: ChatMessage[] = [
      { role: 'system', content: 'S1' },
      { role: 'system', content: 'S2' },
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b' },
      { role: 'user', content: 'c' },
    ];
    assert.equal(await renderChat(MISTRAL, longer, opts), '<s>[INST] S1\nS2\na [/INST]b</s>[INST] c [/INST]');
    // an explicit raise on the system role (Gemma-style templates)
    const noSystem =
      "{% for m in messages %}{% if m['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}<turn {{ m['role'] }}>{{ m['content'] }}\n{% endfor %}";
    assert.equal(await renderChat(noSystem, convo, opts), '<turn user>You are terse.\n  Hi there  \n');
    // templates that accept a system prompt keep it as its own turn
    assert.match(await renderChat(undefined, convo, opts), /^<\|im_start\|>system\nYou are terse\.<\|im_end\|>/);
    // nothing to fold into (no user turn): the template's own error
    await assert.rejects(
      () => renderChat(noSystem, [{ role: 'system', content: 'S' }], opts),
      (e: unknown) => e instanceof ChatTemplateError && e.phase === 'render' && /System role not supported/.test(e.message),
    );
    // folding does not cure every error: the first error is reported
    await assert.rejects(
      () => renderChat(MISTRAL, [...convo, { role: 'user', content: 'again' }], opts),
      (e: unknown) => e instanceof ChatTemplateError && /alternate/.test(e.message) && /system, user, user/.test(e.message),
    );
  });

  test('a template that does not parse → ChatTemplateError (parse)', async () => {
    for (const broken of ['{% for m in messages %}{{ m.content }', '{% if add_generation_prompt %}x', '{{ messages | }}']) {
      await assert.rejects(
        () => renderChat(broken, convo, { bosToken: '', eosToken: '', addGenerationPrompt: false }),
        (e: unknown) => e instanceof ChatTemplateError && e.phase === 'parse' && /does not parse/.test(e.message),
        broken,
      );
    }
  });

  test('a template that fails while rendering → ChatTemplateError (render)', async () => {
    await assert.rejects(
      () => renderChat('{{ messages[0].content.no_such_method() }}', convo, { bosToken: '', eosToken: '', addGenerationPrompt: false }),
      (e: unknown) => e instanceof ChatTemplateError && e.phase === 'render' && e.failure === 'render' && /failed on messages \[system, user\]: .*not a function/.test(e.message),
    );
  });

  test('extra variables reach the template', async () => {
    const tpl = "{% if enable_thinking is defined and not enable_thinking %}<think></think>{% endif %}{{ messages[0]['content'] }}";
    const msgs: ChatMessage[] = [{ role: 'user', content: 'q' }];
    const opts = { bosToken: '', eosToken: '', addGenerationPrompt: false };
    assert.equal(await renderChat(tpl, msgs, opts), 'q');
    assert.equal(await renderChat(tpl, msgs, { ...opts, variables: { enable_thinking: false } }), '<think></think>q');
  });

  test('the rendered prompt yields control tokens only when encoded with parseSpecial', async () => {
    const tokens = [...BYTE_TO_CHAR, '<|im_start|>', '<|im_end|>'];
    const tok = Tokenizer.fromData({ model: 'gpt2', pre: 'qwen2', tokens, tokenTypes: tokens.map((_, i) => (i >= 256 ? 3 : 1)), merges: [] }, { warn: () => {} });
    const prompt = await renderChat(undefined, [{ role: 'user', content: 'x' }], { bosToken: '', eosToken: '', addGenerationPrompt: true });
    const ids = tok.encode(prompt, { parseSpecial: true });
    assert.deepEqual(ids.filter((i) => i >= 256), [256, 257, 256]);
    assert.equal(tok.decode(ids), prompt);
    assert.deepEqual(tok.encode(prompt).filter((i) => i >= 256), []);
  });
});

describe('stopStringsForTemplate', () => {
  test('ChatML (also the fallback)', async () => {
    assert.deepEqual(stopStringsForTemplate(undefined), ['<|im_end|>', '<|im_start|>user']);
  });

  test('Llama-3 style', async () => {
    const stops = stopStringsForTemplate(LLAMA3, '<|end_of_text|>');
    assert.ok(stops.includes('<|eot_id|>'));
    assert.ok(stops.includes('<|start_header_id|>user<|end_header_id|>'));
    assert.ok(stops.includes('<|end_of_text|>'));
    assert.ok(!stops.includes('<|im_end|>'));
  });

  test('Mistral style: the next [INST] and eos', async () => {
    assert.deepEqual(stopStringsForTemplate(MISTRAL, '</s>'), ['[INST]', '</s>']);
  });
});
