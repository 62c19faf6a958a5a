/**
 * Chat and explain against the real daemon process: the answer is the engine's greedy continuation of
 * the conversation rendered with the model's chat template; it streams in order and the stream adds
 * up to the final answer; a completion preempts a long answer between tokens and the answer resumes
 * unchanged; cancellation returns what was written; full queues refuse; explain streams too.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { renderChat, stopStringsForTemplate } from '../../daemon/engine/chat-template.js';
import { Engine } from '../../daemon/engine/engine.js';
import { generate } from '../../daemon/engine/generate.js';
import { noControlMask } from '../../daemon/engine/token-mask.js';
import type { ChatResult, StreamAppendParams } from '../../daemon/protocol.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { modelUnavailable, startDaemon, TEST_MODEL_SPEC, type DaemonClient } from './daemon-harness.js';

const SYSTEM = 'You are a test.';
const QUESTIONS = ['How do I reverse a list in Python?', 'What does this regex match: ^a+b$', 'Write a for loop in C.', 'Explain closures.'];

let model = '';
let noModel: string | undefined;
/** Greedy answers by the engine in this process, with their token counts. */
const reference: { question: string; text: string; tokens: number }[] = [];
const MAX_TOKENS = 40;

before(async () => {
  model = await ensureModel(TEST_MODEL_SPEC);
  noModel = await modelUnavailable();
  if (noModel) return;
  const engine = await Engine.load(model, { nSlots: 1 });
  try {
    const tok = engine.tokenizer;
    const eos = tok.eosId !== undefined ? tok.decode([tok.eosId]) : undefined;
    for (const question of QUESTIONS) {
      const text = await renderChat(
        engine.chatTemplate,
        [
          { role: 'system', content: SYSTEM },
          { role: 'user', content: question },
        ],
        { bosToken: tok.bosId !== undefined ? tok.decode([tok.bosId]) : '', eosToken: eos ?? '', addGenerationPrompt: true },
      );
      const r = await generate(engine.session(0), tok, tok.encode(text, { parseSpecial: true }), {
        maxTokens: MAX_TOKENS,
        sampling: { temperature: 0, topK: 40, topP: 0.95, seed: 42 },
        stop: stopStringsForTemplate(engine.chatTemplate, eos),
        masks: { every: noControlMask(tok) }, // as the daemon's chat generations
      });
      reference.push({ question, text: r.text, tokens: r.tokens.length });
    }
  } finally {
    await engine.dispose();
  }
});

function chatParams(question: string, extra: Record<string, unknown> = {}) {
  return {
    messages: [
      { role: 'system', content: SYSTEM },
      { role: 'user', content: question },
    ],
    maxTokens: MAX_TOKENS,
    temperature: 0,
    ...extra,
  };
}

describe('chat and explain', () => {
  let c: DaemonClient;
  before(async () => {
    if (noModel) return;
    c = await startDaemon({ env: { MOECODE_MODEL: model } });
    const s = await c.waitForState(['ready', 'error']);
    assert.equal(s.state, 'ready', s.message);
  });
  after(async () => {
    if (c) await c.shutdownAndExit();
  });

  const stream = (id: string) =>
    c.notifications.filter((n) => n.method === 'moecode/stream/didAppend' && (n.params as StreamAppendParams).streamId === id).map((n) => n.params as StreamAppendParams);

  test('a chat streams in order and the whole answer is the engine\'s greedy continuation', async (t) => {
    if (noModel) return t.skip(noModel);
    const ref = reference[0]!;
    const req = c.request('moecode/chat/send', chatParams(ref.question, { streamId: 'chat-1' }));
    const r = await req.response;
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const result = r.result as ChatResult;
    assert.equal(result.text, ref.text);
    assert.equal(result.generatedTokens, ref.tokens);
    assert.ok(['eos', 'stop', 'length'].includes(result.stopReason));
    const parts = stream('chat-1');
    assert.ok(parts.length >= 1, 'streamed');
    assert.deepEqual(
      parts.map((p) => p.seq),
      parts.map((_, i) => i),
    );
    assert.equal(parts.map((p) => p.delta).join(''), result.text);
  });

  test('the same conversation again reuses the chat slot\'s cache and answers the same', async (t) => {
    if (noModel) return t.skip(noModel);
    const ref = reference[0]!;
    const result = await c.call<ChatResult>('moecode/chat/send', chatParams(ref.question));
    assert.equal(result.text, ref.text);
    assert.ok(result.reusedTokens >= result.promptTokens - 1, `reused ${result.reusedTokens} of ${result.promptTokens}`);
  });

  test('an inline completion preempts a long answer between tokens, and the answer resumes unchanged', async (t) => {
    if (noModel) return t.skip(noModel);
    const ref = reference.reduce((a, b) => (b.tokens > a.tokens ? b : a));
    if (ref.tokens < 12) return t.skip(`no reference answer is long enough (${ref.tokens} tokens)`);
    // Whether the completion reaches the daemon while the chat still generates is up to the machine (the shipped
    // model writes a token in a few ms), so a try in which no preemption happened proves nothing either way: up
    // to three tries, and at least one must preempt. Every try's answer must equal the uninterrupted one.
    let preempted = false;
    for (let attempt = 0; attempt < 3 && !preempted; attempt++) {
      const uri = `file:///preempt/a${attempt}.ts`;
      c.open(uri, `export function area${attempt}(r: number) {\n  return \n}\n`, 'typescript');
      const before = await c.debugState(true);
      const streamId = `long${attempt}`;
      const chat = c.request('moecode/chat/send', chatParams(ref.question, { streamId }));
      await c.waitForNotification('moecode/stream/didAppend', (p: StreamAppendParams) => p.streamId === streamId && p.seq >= 2);
      const completion = c.inline(uri, 1, 9);
      let chatDone = false;
      void chat.response.then(() => (chatDone = true));
      const cr = await completion.response;
      const chatDoneAtCompletion = chatDone;
      assert.equal(cr.error, undefined);
      const answer = (await chat.response).result as ChatResult;
      assert.equal(answer.text, ref.text, 'the preempted answer equals the uninterrupted one');
      assert.equal(stream(streamId).map((p) => p.delta).join(''), answer.text);
      const after = await c.debugState(true);
      preempted = after.counters.preemptions > before.counters.preemptions;
      if (preempted) assert.equal(chatDoneAtCompletion, false, 'the completion was answered before the chat finished');
      else t.diagnostic(`try ${attempt + 1}: the chat finished before the completion reached the daemon`);
      c.close(uri);
    }
    assert.ok(preempted, 'in three tries, an inline completion never preempted the chat');
  });

  test('cancelling a chat answers at once with what was written so far', async (t) => {
    if (noModel) return t.skip(noModel);
    const ref = reference.reduce((a, b) => (b.tokens > a.tokens ? b : a));
    if (ref.tokens < 8) return t.skip('no reference answer is long enough');
    const req = c.request('moecode/chat/send', chatParams(ref.question, { streamId: 'cancel-me', maxTokens: 400 }));
    await c.waitForNotification('moecode/stream/didAppend', (p: StreamAppendParams) => p.streamId === 'cancel-me' && p.seq >= 1);
    c.cancel(req.id);
    const result = (await req.response).result as ChatResult;
    assert.equal(result.stopReason, 'cancelled');
    assert.ok(ref.text.startsWith(result.text), 'the partial answer is a prefix of the full one');
    assert.equal(stream('cancel-me').map((p) => p.delta).join(''), result.text);
    const s = await c.debugState(true);
    assert.equal(s.running, 0);
  });

  test('too many waiting chats are refused with RequestFailed (queueFull)', async (t) => {
    if (noModel) return t.skip(noModel);
    const reqs = Array.from({ length: 7 }, (_, i) => c.request('moecode/chat/send', chatParams(QUESTIONS[i % QUESTIONS.length]!, { maxTokens: 400 })));
    const refused = await Promise.race(reqs.map((r) => r.response.then((x) => (x.error ? x : undefined)))).then(async (first) => first ?? undefined);
    // cancel the rest to finish quickly
    for (const r of reqs) c.cancel(r.id);
    const all = await Promise.all(reqs.map((r) => r.response));
    const errors = all.filter((r) => r.error);
    assert.ok(errors.length >= 1, 'at least one was refused');
    for (const e of errors) {
      assert.equal(e.error!.code, -32803);
      assert.deepEqual(e.error!.data, { reason: 'queueFull' });
    }
    assert.ok(refused);
    const s = await c.debugState(true);
    assert.deepEqual(s.queued, { completion: 0, chat: 0 });
    assert.ok(s.counters.refused >= 1);
  });

  test('explain streams an answer about a range of an open document', async (t) => {
    if (noModel) return t.skip(noModel);
    const uri = 'file:///explain/util.py';
    const text = 'import os\n\n\ndef size(path):\n    """Bytes in a file."""\n    return os.stat(path).st_size\n\n\nprint(size(__file__))\n';
    c.open(uri, text, 'python');
    const r = await c.request('moecode/code/explain', {
      textDocument: { uri },
      range: { start: { line: 3, character: 0 }, end: { line: 6, character: 0 } },
      question: 'What does it return?',
      maxTokens: 12,
      streamId: 7,
    }).response;
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    const result = r.result as ChatResult;
    assert.ok(result.promptTokens > 40);
    const parts = c.notifications.filter((n) => n.method === 'moecode/stream/didAppend' && (n.params as StreamAppendParams).streamId === 7).map((n) => (n.params as StreamAppendParams).delta);
    assert.equal(parts.join(''), result.text);
    // an empty range explains its line
    const line = await c.call<ChatResult>('moecode/code/explain', { textDocument: { uri }, range: { start: { line: 5, character: 4 }, end: { line: 5, character: 4 } }, maxTokens: 4 });
    assert.ok(line.promptTokens > 20);
    c.close(uri);
  });

  test('a chat with attachments read from an open document', async (t) => {
    if (noModel) return t.skip(noModel);
    const uri = 'file:///attach/a.rs';
    c.open(uri, 'fn main() {\n    println!("hi");\n}\n', 'rust');
    const plain = await c.call<ChatResult>('moecode/chat/send', { messages: [{ role: 'user', content: 'What does this print?' }], maxTokens: 2 });
    const withFile = await c.call<ChatResult>('moecode/chat/send', {
      messages: [{ role: 'user', content: 'What does this print?' }],
      attachments: [{ kind: 'file', uri }, { kind: 'selection', uri, range: { start: { line: 1, character: 4 }, end: { line: 1, character: 19 } } }],
      maxTokens: 2,
    });
    assert.ok(withFile.promptTokens > plain.promptTokens + 15, `${withFile.promptTokens} vs ${plain.promptTokens}`);
    const gone = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'x' }], attachments: [{ kind: 'file', uri: 'file:///not/open.rs' }] }).response;
    assert.deepEqual(gone.error?.data, { reason: 'unknownDocument' });
    c.close(uri);
  });
});
