/**
 * `moecode serve` on the shipped model as a real child process, driven by the official `openai` npm
 * client: chat and text completions, streamed and not, fill-in-the-middle with `suffix`, `stop`,
 * `seed`, usage (in the last streamed chunk with stream_options.include_usage), the model list, and an
 * API key. Every greedy answer must equal the engine's own greedy continuation computed in this
 * process from the same prompt building blocks (chat template, FIM prompt, token healing, masks).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';
import { COMPLETION_PROMPT_BUDGET, fimPromptBudget } from '../../daemon/completion/complete-fim.js';
import { buildFimPrompt } from '../../daemon/completion/fim-prompt.js';
import { healerFor, stripHealed } from '../../daemon/completion/token-healing.js';
import { Engine } from '../../daemon/engine/engine.js';
import { generate } from '../../daemon/engine/generate.js';
import { noControlMask } from '../../daemon/engine/token-mask.js';
import { promptBudget } from '../../daemon/features/chat.js';
import { chatStopStrings } from '../../daemon/features/chat-generation.js';
import { fitChatPrompt } from '../../daemon/features/chat-prompt.js';
import { modelUnavailable } from './daemon-harness.js';
import { SHIPPED_MODEL, startServe, whenHealthy, type ServeProcess } from './serve-harness.js';

const KEY = 'test-key-0123456789';
const SYSTEM = 'You are a test.';
const QUESTION = 'How do I reverse a list in Python?';
const CHAT_MAX = 24;
const PLAIN_PROMPT = 'class Parser:\n    def __init__(self, text):\n';
const PLAIN_MAX = 20;
const FIM_PREFIX = 'def add(a, b):\n    ret';
const FIM_SUFFIX = '\n\nprint(add(1, 2))\n';
const FIM_MAX = 12;

let noModel: string | undefined;
const ref = { chat: { text: '', tokens: 0, promptTokens: 0 }, plain: { text: '', promptTokens: 0 }, fim: { text: '', promptTokens: 0 } };

before(async () => {
  noModel = await modelUnavailable();
  if (noModel) return;
  const engine = await Engine.load(SHIPPED_MODEL, { nSlots: 1 });
  try {
    const tok = engine.tokenizer;
    const nCtx = engine.model.nCtx;
    const every = noControlMask(tok);
    const session = engine.session(0);
    // chat: the daemon's chat prompt, greedy, the template's stop strings
    const { ids } = await fitChatPrompt(engine, [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }], [], promptBudget(nCtx, CHAT_MAX));
    session.reset();
    const chat = await generate(session, tok, ids, { maxTokens: CHAT_MAX, sampling: { temperature: 0, topK: 40, topP: 0.95, seed: 42 }, stop: chatStopStrings(engine), masks: { every } });
    ref.chat = { text: chat.text, tokens: chat.tokens.length, promptTokens: ids.length };
    // a plain completion: the prompt as text, special-token text parsed
    const plainIds = tok.encode(PLAIN_PROMPT, { parseSpecial: true });
    session.reset();
    const plain = await generate(session, tok, plainIds, { maxTokens: PLAIN_MAX, sampling: { temperature: 0, topK: 40, topP: 0.95, seed: 42 }, masks: { every } });
    ref.plain = { text: plain.text, promptTokens: plainIds.length };
    // fill-in-the-middle: the model's FIM prompt, its last prefix token healed
    assert.ok(fimPromptBudget(nCtx, FIM_MAX) <= COMPLETION_PROMPT_BUDGET);
    const prompt = buildFimPrompt(tok, FIM_PREFIX, FIM_SUFFIX, { budget: fimPromptBudget(nCtx, FIM_MAX) });
    const heal = healerFor(tok).heal(prompt);
    assert.notEqual(heal.healed, '', 'the FIM prompt ends inside a word: its last token is healed');
    session.reset();
    const fim = await generate(session, tok, heal.ids, { maxTokens: FIM_MAX + 1, sampling: { temperature: 0, topK: 40, topP: 0.95, seed: 0 }, masks: { first: heal.firstTokenMask, every } });
    ref.fim = { text: stripHealed(fim.text, heal.healed), promptTokens: heal.ids.length };
    for (const [what, r] of Object.entries(ref)) assert.ok(r.text.trim().length > 0, `the ${what} reference says something`);
  } finally {
    await engine.dispose();
  }
});

describe('moecode serve through the openai client', () => {
  let server: ServeProcess;
  let client: OpenAI;
  before(async () => {
    if (noModel) return;
    server = await startServe([SHIPPED_MODEL, '--port', '0', '--api-key', KEY]);
    await whenHealthy(server.url);
    client = new OpenAI({ apiKey: KEY, baseURL: `${server.url}/v1`, maxRetries: 0, timeout: 120_000 });
  });
  after(async () => {
    if (server) assert.equal((await server.stop()).code, 0, server.stderr());
  });

  test('models.list names the model file', async (t) => {
    if (noModel) return t.skip(noModel);
    const page = await client.models.list();
    assert.deepEqual(
      page.data.map((m) => [m.id, m.object, m.owned_by]),
      [['moecode-coder', 'model', 'moecode']],
    );
  });

  test('a wrong API key is refused with 401 (AuthenticationError)', async (t) => {
    if (noModel) return t.skip(noModel);
    const bad = new OpenAI({ apiKey: 'wrong', baseURL: `${server.url}/v1`, maxRetries: 0 });
    await assert.rejects(bad.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError && e.status === 401);
    await assert.rejects(bad.chat.completions.create({ model: 'moecode-coder', messages: [{ role: 'user', content: 'hi' }] }), (e: unknown) => e instanceof OpenAI.AuthenticationError);
  });

  test('chat, not streamed: the greedy answer of the chat template, with usage', async (t) => {
    if (noModel) return t.skip(noModel);
    const r = await client.chat.completions.create({
      model: 'moecode-coder',
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: QUESTION },
      ],
      max_tokens: CHAT_MAX,
      temperature: 0,
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, 'moecode-coder');
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.choices.length, 1);
    assert.equal(r.choices[0]!.message.role, 'assistant');
    assert.equal(r.choices[0]!.message.content, ref.chat.text);
    assert.equal(r.choices[0]!.finish_reason, ref.chat.tokens >= CHAT_MAX ? 'length' : 'stop');
    assert.deepEqual(r.usage, { prompt_tokens: ref.chat.promptTokens, completion_tokens: ref.chat.tokens, total_tokens: ref.chat.promptTokens + ref.chat.tokens });
  });

  test('chat, streamed: chunks add up to the same answer; usage comes in the last chunk', async (t) => {
    if (noModel) return t.skip(noModel);
    const stream = await client.chat.completions.create({
      model: 'moecode-coder',
      messages: [
        { role: 'system', content: SYSTEM },
        { role: 'user', content: QUESTION },
      ],
      max_tokens: CHAT_MAX,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.length >= 3, `${chunks.length} chunks`);
    assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === chunks[0]!.id));
    assert.equal(chunks[0]!.choices[0]!.delta.role, 'assistant');
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    assert.equal(text, ref.chat.text);
    const finishes = chunks.flatMap((c) => c.choices.map((ch) => ch.finish_reason)).filter((f) => f !== null);
    assert.deepEqual(finishes, [ref.chat.tokens >= CHAT_MAX ? 'length' : 'stop']);
    const last = chunks[chunks.length - 1]!;
    assert.deepEqual(last.choices, []);
    assert.deepEqual(last.usage, { prompt_tokens: ref.chat.promptTokens, completion_tokens: ref.chat.tokens, total_tokens: ref.chat.promptTokens + ref.chat.tokens });
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null), 'the other chunks carry usage: null');
  });

  test('chat, streamed without include_usage: no usage chunk', async (t) => {
    if (noModel) return t.skip(noModel);
    const stream = await client.chat.completions.create({ model: 'moecode-coder', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, stream: true });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.every((c) => c.usage === undefined && c.choices.length === 1));
  });

  test('text completion without suffix: the greedy continuation of the prompt', async (t) => {
    if (noModel) return t.skip(noModel);
    const r = await client.completions.create({ model: 'moecode-coder', prompt: PLAIN_PROMPT, max_tokens: PLAIN_MAX, temperature: 0 });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.choices[0]!.text, ref.plain.text);
    assert.equal(r.choices[0]!.finish_reason, 'length');
    assert.deepEqual(r.usage, { prompt_tokens: ref.plain.promptTokens, completion_tokens: PLAIN_MAX, total_tokens: ref.plain.promptTokens + PLAIN_MAX });
  });

  test('stop: the text ends before the first stop string, finish_reason stop', async (t) => {
    if (noModel) return t.skip(noModel);
    // a stop string from the middle of the greedy continuation
    const at = Math.floor(ref.plain.text.length / 2);
    const stop = ref.plain.text.slice(at, at + 3);
    assert.equal(stop.length, 3);
    const r = await client.completions.create({ model: 'moecode-coder', prompt: PLAIN_PROMPT, max_tokens: PLAIN_MAX, temperature: 0, stop: [stop] });
    assert.equal(r.choices[0]!.text, ref.plain.text.slice(0, ref.plain.text.indexOf(stop)));
    assert.equal(r.choices[0]!.finish_reason, 'stop');
  });

  test('seed: the same seed samples the same text at temperature 1', async (t) => {
    if (noModel) return t.skip(noModel);
    const ask = (seed: number) => client.completions.create({ model: 'moecode-coder', prompt: PLAIN_PROMPT, max_tokens: 12, temperature: 1, top_p: 1, seed });
    const [a, b] = [await ask(7), await ask(7)];
    assert.equal(a.choices[0]!.text, b.choices[0]!.text);
    const others = await Promise.all([11, 12, 13].map((s) => ask(s)));
    assert.ok(
      others.some((o) => o.choices[0]!.text !== a.choices[0]!.text),
      'some other seed samples another text',
    );
  });

  test('fill-in-the-middle with suffix: the model\'s FIM prompt, healed, greedy', async (t) => {
    if (noModel) return t.skip(noModel);
    const r = await client.completions.create({ model: 'moecode-coder', prompt: FIM_PREFIX, suffix: FIM_SUFFIX, max_tokens: FIM_MAX, temperature: 0 });
    assert.equal(r.choices[0]!.text, ref.fim.text);
    assert.equal(r.usage!.prompt_tokens, ref.fim.promptTokens);
    assert.ok(['stop', 'length'].includes(r.choices[0]!.finish_reason));
  });

  test('fill-in-the-middle, streamed: text_completion chunks add up to the same text; usage last', async (t) => {
    if (noModel) return t.skip(noModel);
    const stream = await client.completions.create({
      model: 'moecode-coder',
      prompt: FIM_PREFIX,
      suffix: FIM_SUFFIX,
      max_tokens: FIM_MAX,
      temperature: 0,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks: OpenAI.Completions.Completion[] = [];
    for await (const c of stream) chunks.push(c);
    assert.ok(chunks.every((c) => c.object === 'text_completion'));
    assert.equal(chunks.map((c) => c.choices[0]?.text ?? '').join(''), ref.fim.text);
    const last = chunks[chunks.length - 1]!;
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage!.prompt_tokens, ref.fim.promptTokens);
    assert.equal(chunks.filter((c) => c.choices[0]?.finish_reason).length, 1);
  });

  test('a bad field is an OpenAI BadRequestError naming it', async (t) => {
    if (noModel) return t.skip(noModel);
    await assert.rejects(
      client.chat.completions.create({ model: 'moecode-coder', messages: [{ role: 'user', content: 'hi' }], temperature: 7 }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.param === 'temperature',
    );
  });
});
