/**
 * Remote engines against the real daemon process and a stand-in OpenAI-compatible server (real HTTP on
 * 127.0.0.1, test/helpers/openai-stand-in.ts) replaying the stream quirks of vLLM, SGLang and
 * llama-server: inline completions go to /v1/completions with each family's FIM prompt (or /infill, or
 * `suffix`), are cut by the daemon's stop rules (which close the stream) and cached; chat and explain
 * stream through /v1/chat/completions; an outage and a refused key show in the status, which names the
 * server, and the daemon recovers when the server returns or the key changes; connection failures are
 * retried, 4xx never; switching between the local model and a server needs no restart and unloads the
 * local model.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChatResult, StatusParams, StreamAppendParams } from '../../daemon/protocol.js';
import { KEY_SEAL_ENV, newSealSecret, sealApiKey } from '../../daemon/remote/api-key-seal.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { OpenAiStandIn, type Dialect, type ModelEntry } from '../helpers/openai-stand-in.js';
import { modelUnavailable, startDaemon, TEST_MODEL_SPEC, type DaemonClient } from './daemon-harness.js';
import type { RpcResponse } from './json-rpc-client.js';

const STATUS = 'moecode/status/didChange';

interface Item {
  insertText: string;
}
const items = (r: RpcResponse): Item[] => {
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  return (r.result as { items: Item[] }).items;
};

/** The first status notification (after index `since`) that `match` accepts. */
async function waitForStatus(c: DaemonClient, match: (s: StatusParams) => boolean, since = 0, timeoutMs = 20_000): Promise<StatusParams> {
  return (await c.waitForNotification(STATUS, match, timeoutMs, since)).params as StatusParams;
}

async function startWith(server: OpenAiStandIn, remote: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): Promise<DaemonClient> {
  const c = await startDaemon({ env: { MOECODE_REMOTE_API_KEY: '', ...env }, settings: { remote: { url: server.url, ...remote }, completion: { maxTokens: 16, temperature: 0 }, chat: { maxTokens: 40, temperature: 0 } } });
  return c;
}

/** Changes settings the way an editor does: the new section, then didChangeConfiguration. */
function reconfigure(c: DaemonClient, remote: Record<string, unknown>): number {
  const mark = c.notifications.length;
  c.settings = { ...c.settings, remote: { ...(c.settings.remote ?? {}), ...remote } };
  c.notify('workspace/didChangeConfiguration', { settings: null });
  return mark;
}

/** A chat request streamed with `streamId`; resolves with the result and the deltas received. */
async function streamedChat(c: DaemonClient, streamId: string, params: Record<string, unknown>): Promise<{ r: RpcResponse; deltas: string[] }> {
  const r = await c.request('moecode/chat/send', { ...params, streamId }).response;
  const deltas = c.notifications
    .filter((n) => n.method === 'moecode/stream/didAppend' && (n.params as StreamAppendParams).streamId === streamId)
    .map((n) => n.params as StreamAppendParams)
    .sort((a, b) => a.seq - b.seq)
    .map((p) => p.delta);
  return { r, deltas };
}

const PY_PREFIX = 'def add(a, b):\n    return ';
const PY_SUFFIX = '\n\nprint(add(1, 2))\n';

/** Each family's prompt as its model card writes it (not read from the daemon's table), and its end-of-text marker. */
const FAMILY_CASES: { model: string; fim: string; prompt: string; eos: string }[] = [
  { model: 'Qwen/Qwen2.5-Coder-7B', fim: 'qwen-coder', prompt: `<|fim_prefix|>${PY_PREFIX}<|fim_suffix|>${PY_SUFFIX}<|fim_middle|>`, eos: '<|endoftext|>' },
  { model: 'Qwen/Qwen3-Coder-30B-A3B-Instruct', fim: 'qwen-coder', prompt: `<|fim_prefix|>${PY_PREFIX}<|fim_suffix|>${PY_SUFFIX}<|fim_middle|>`, eos: '<|endoftext|>' },
  { model: 'deepseek-ai/deepseek-coder-6.7b-base', fim: 'deepseek-coder', prompt: `<｜fim▁begin｜>${PY_PREFIX}<｜fim▁hole｜>${PY_SUFFIX}<｜fim▁end｜>`, eos: '<｜end▁of▁sentence｜>' },
  { model: 'deepseek-ai/DeepSeek-Coder-V2-Lite-Base', fim: 'deepseek-coder', prompt: `<｜fim▁begin｜>${PY_PREFIX}<｜fim▁hole｜>${PY_SUFFIX}<｜fim▁end｜>`, eos: '<｜end▁of▁sentence｜>' },
  { model: 'mistralai/Codestral-22B-v0.1', fim: 'codestral', prompt: `[SUFFIX]${PY_SUFFIX}[PREFIX]${PY_PREFIX}`, eos: '</s>' },
  { model: 'bigcode/starcoder2-15b', fim: 'starcoder2', prompt: `<fim_prefix>${PY_PREFIX}<fim_suffix>${PY_SUFFIX}<fim_middle>`, eos: '<|endoftext|>' },
  { model: 'codellama/CodeLlama-7b-hf', fim: 'codellama', prompt: `<PRE> ${PY_PREFIX} <SUF>${PY_SUFFIX} <MID>`, eos: '<EOT>' },
  { model: 'ibm-granite/granite-8b-code-base-4k', fim: 'granite-code', prompt: `<fim_prefix>${PY_PREFIX}<fim_suffix>${PY_SUFFIX}<fim_middle>`, eos: '<|endoftext|>' },
  { model: 'ibm-granite/granite-4.0-h-tiny', fim: 'granite4', prompt: `<|fim_prefix|>${PY_PREFIX}<|fim_suffix|>${PY_SUFFIX}<|fim_middle|>`, eos: '<|end_of_text|>' },
];
const UNKNOWN_MODEL = 'acme/mystery-coder-7b';
const ALL_MODELS: ModelEntry[] = [...FAMILY_CASES.map((f) => ({ id: f.model, contextLength: 32768 })), { id: UNKNOWN_MODEL, contextLength: 8192 }];

describe('remote server: inline completions', () => {
  let server: OpenAiStandIn;
  let c: DaemonClient;
  before(async () => {
    server = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: 'Qwen/Qwen2.5-Coder-7B', contextLength: 32768 }] });
    await server.start();
    c = await startWith(server, {});
    await waitForStatus(c, (s) => s.remote?.state === 'ok');
  });
  after(async () => {
    await c?.shutdownAndExit();
    await server?.stop();
  });

  test('the status names the server and the model the server lists first; no local model is loaded', async () => {
    const s = await waitForStatus(c, (s) => s.remote?.state === 'ok');
    assert.equal(s.state, 'ready');
    assert.equal(s.remote!.url, server.url);
    assert.equal(s.remote!.model, 'Qwen/Qwen2.5-Coder-7B');
    assert.equal(s.modelName, 'Qwen/Qwen2.5-Coder-7B');
    assert.equal(s.remote!.fim, 'qwen-coder');
    assert.equal(s.memory, undefined, 'no local model');
    const st = await c.status();
    assert.equal(st.remote?.state, 'ok');
    assert.equal((await c.debugState()).slots.length, 0, 'no KV slots: nothing loaded locally');
    assert.equal(server.received('/v1/models').length >= 1, true);
  });

  test('a completion is the FIM prompt on /v1/completions, cut by the stop rules, which close the stream; the next keystroke is served from the cache', async () => {
    const uri = 'file:///remote/add.ts';
    const text = 'function add(a: number, b: number) {\n  return \n}\n';
    c.open(uri, text);
    // the answer runs past the line: the single-line stop rule ends it; the long tail is never read
    server.completion = () => ['a', ' + b;', '\n}', '\n\nfunction', ...Array.from({ length: 60 }, () => ' more')];
    server.pieceDelayMs = 15;
    const before = server.received('/v1/completions').length;
    const r = items(await c.inline(uri, 1, 9).response);
    assert.deepEqual(r.map((i) => i.insertText), ['a + b;']);
    const sent = server.received('/v1/completions');
    assert.equal(sent.length, before + 1);
    const req = sent[sent.length - 1]!;
    assert.equal(req.body.prompt, '<|fim_prefix|>function add(a: number, b: number) {\n  return <|fim_suffix|>\n}\n<|fim_middle|>');
    assert.equal(req.body.model, 'Qwen/Qwen2.5-Coder-7B');
    assert.equal(req.body.stream, true);
    assert.equal(req.body.max_tokens, 16);
    assert.equal(req.body.temperature, 0);
    assert.ok(req.body.stop.includes('<|endoftext|>') && req.body.stop.length <= 4, JSON.stringify(req.body.stop));
    for (let i = 0; i < 100 && req.outcome === 'pending'; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(req.outcome, 'client-closed', 'the stop rule closed the connection before the server finished');
    // typing the suggestion's first character: the cache answers, the server is not asked
    c.insert(uri, 2, 1, 9, 'a');
    const again = items(await c.inline(uri, 1, 10).response);
    assert.deepEqual(again.map((i) => i.insertText), [' + b;']);
    assert.equal(server.received('/v1/completions').length, before + 1);
    server.pieceDelayMs = 2;
  });

  test('$/cancelRequest answers RequestCancelled at once and closes the HTTP request', async () => {
    const uri = 'file:///remote/cancel.ts';
    c.open(uri, 'const x = \n');
    server.completion = () => Array.from({ length: 200 }, () => 'y');
    server.pieceDelayMs = 20;
    const before = server.received('/v1/completions').length;
    const req = c.inline(uri, 0, 10);
    // cancel once the server has the request
    for (let i = 0; i < 200 && server.received('/v1/completions').length === before; i++) await new Promise((r) => setTimeout(r, 10));
    c.cancel(req.id);
    const r = await req.response;
    assert.equal(r.error?.code, -32800);
    const sent = server.received('/v1/completions');
    const last = sent[sent.length - 1]!;
    for (let i = 0; i < 100 && last.outcome === 'pending'; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(last.outcome, 'client-closed');
    server.pieceDelayMs = 2;
    server.completion = () => ['ok'];
  });
});

describe('remote server: the FIM prompt of each model family', () => {
  let server: OpenAiStandIn;
  let c: DaemonClient;
  before(async () => {
    server = new OpenAiStandIn({ dialect: 'sglang', models: ALL_MODELS, completion: () => ['a + b'] });
    await server.start();
    c = await startWith(server, { model: UNKNOWN_MODEL });
    await waitForStatus(c, (s) => s.remote?.state === 'ok');
  });
  after(async () => {
    await c?.shutdownAndExit();
    await server?.stop();
  });

  let docs = 0;
  async function completeWith(model: string, fimTemplate = 'auto'): Promise<{ items: Item[]; status: StatusParams }> {
    const mark = reconfigure(c, { model, fimTemplate });
    const status = await waitForStatus(c, (s) => s.remote?.state === 'ok' && s.remote.model === model, mark);
    const uri = `file:///remote/fim${docs++}.py`;
    c.open(uri, PY_PREFIX + PY_SUFFIX, 'python');
    const r = items(await c.inline(uri, 1, 11).response);
    return { items: r, status };
  }

  for (const f of FAMILY_CASES) {
    test(`${f.model}: ${f.fim}`, async () => {
      const { items: r, status } = await completeWith(f.model);
      assert.equal(status.remote?.fim, f.fim);
      assert.deepEqual(r.map((i) => i.insertText), ['a + b']);
      const last = server.received('/v1/completions').at(-1)!;
      assert.equal(last.body.model, f.model);
      assert.equal(last.body.prompt, f.prompt);
      assert.equal(last.body.suffix, undefined);
      assert.equal(last.body.stop[0], f.eos);
    });
  }

  test('moecode.remote.fimTemplate overrides the guess', async () => {
    await completeWith(UNKNOWN_MODEL, 'codestral');
    assert.equal(server.received('/v1/completions').at(-1)!.body.prompt, `[SUFFIX]${PY_SUFFIX}[PREFIX]${PY_PREFIX}`);
  });

  test('an unknown family: /infill is tried (404 on SGLang), then /v1/completions with `suffix`, remembered', async () => {
    const infillBefore = server.received('/infill').length;
    const { items: r } = await completeWith(UNKNOWN_MODEL, 'auto');
    assert.deepEqual(r.map((i) => i.insertText), ['a + b']);
    assert.equal(server.received('/infill').length, infillBefore + 1);
    const last = server.received('/v1/completions').at(-1)!;
    assert.equal(last.body.prompt, PY_PREFIX);
    assert.equal(last.body.suffix, PY_SUFFIX);
    assert.equal((await c.status()).remote?.fim, 'suffix');
    // the next completion goes straight to `suffix`
    const uri = 'file:///remote/fim-again.py';
    c.open(uri, PY_PREFIX + PY_SUFFIX, 'python');
    items(await c.inline(uri, 1, 11).response);
    assert.equal(server.received('/infill').length, infillBefore + 1);
  });
});

describe('remote server: llama-server /infill and vLLM refusals', () => {
  test("llama-server: an unknown family goes to /infill and its own stream format is read", async () => {
    const server = new OpenAiStandIn({ dialect: 'llama-server', models: [{ id: 'mystery.gguf', contextLength: 4096 }], completion: () => ['a', ' + ', 'b'] });
    await server.start();
    const c = await startWith(server, {});
    try {
      await waitForStatus(c, (s) => s.remote?.state === 'ok');
      const uri = 'file:///remote/infill.py';
      c.open(uri, PY_PREFIX + PY_SUFFIX, 'python');
      assert.deepEqual(items(await c.inline(uri, 1, 11).response).map((i) => i.insertText), ['a + b']);
      const req = server.received('/infill').at(-1)!;
      assert.equal(req.body.input_prefix, PY_PREFIX);
      assert.equal(req.body.input_suffix, PY_SUFFIX);
      assert.equal(req.body.n_predict, 16);
      assert.equal(server.received('/v1/completions').length, 0);
      assert.equal((await c.status()).remote?.fim, 'infill');
    } finally {
      await c.shutdownAndExit();
      await server.stop();
    }
  });

  test('vLLM refuses `suffix` with 400: asked once, never retried; the completion is empty and the server stays ok', async () => {
    const server = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: UNKNOWN_MODEL }] });
    await server.start();
    const c = await startWith(server, {});
    try {
      await waitForStatus(c, (s) => s.remote?.state === 'ok');
      const uri = 'file:///remote/refused.py';
      c.open(uri, PY_PREFIX + PY_SUFFIX, 'python');
      assert.deepEqual(items(await c.inline(uri, 1, 11).response), []);
      assert.equal(server.received('/v1/completions').length, 1, '4xx is not retried');
      assert.equal(server.received('/v1/completions')[0]!.outcome, 'failed');
      assert.equal((await c.status()).remote?.state, 'ok');
      assert.ok(c.logMessages().some((m) => /HTTP 400.*suffix is not currently supported/.test(m)), 'the log says why');
    } finally {
      await c.shutdownAndExit();
      await server.stop();
    }
  });
});

for (const dialect of ['vllm', 'sglang', 'llama-server'] as Dialect[]) {
  describe(`remote server (${dialect}): chat and explain`, () => {
    let server: OpenAiStandIn;
    let c: DaemonClient;
    const pieces = ['Use', ' `reversed()`', ' or', ' slicing:', ' `xs[::-1]`', '.'];
    before(async () => {
      server = new OpenAiStandIn({ dialect, models: [{ id: 'Qwen/Qwen2.5-Coder-32B-Instruct', contextLength: 32768 }], chat: () => pieces });
      await server.start();
      c = await startWith(server, {});
      await waitForStatus(c, (s) => s.remote?.state === 'ok');
    });
    after(async () => {
      await c?.shutdownAndExit();
      await server?.stop();
    });

    test('chat streams every content delta in order; role-only, empty and finish chunks add nothing; usage gives the counts', async () => {
      const { r, deltas } = await streamedChat(c, `chat-${dialect}`, { messages: [{ role: 'user', content: 'How do I reverse a list in Python?' }] });
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      const result = r.result as ChatResult;
      assert.equal(result.text, pieces.join(''));
      assert.deepEqual(deltas, pieces);
      assert.equal(result.stopReason, 'eos');
      assert.equal(result.generatedTokens, pieces.length);
      assert.equal(result.promptTokens, 20);
      const req = server.received('/v1/chat/completions').at(-1)!;
      assert.equal(req.body.stream, true);
      assert.equal(req.body.model, 'Qwen/Qwen2.5-Coder-32B-Instruct');
      assert.equal(req.body.max_tokens, 40);
      assert.equal(req.body.messages[0].role, 'system');
      assert.deepEqual(req.body.messages.at(-1), { role: 'user', content: 'How do I reverse a list in Python?' });
      assert.equal(req.outcome, 'complete');
    });

    test('explain sends the code and its surroundings as a chat and streams the answer', async () => {
      const uri = `file:///remote/explain-${dialect}.py`;
      c.open(uri, 'import sys\n\ndef rev(xs):\n    return xs[::-1]\n\nprint(rev([1, 2]))\n', 'python');
      const r = await c.request('moecode/code/explain', { textDocument: { uri }, range: { start: { line: 2, character: 0 }, end: { line: 4, character: 0 } }, streamId: `explain-${dialect}` }).response;
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal((r.result as ChatResult).text, pieces.join(''));
      const user = server.received('/v1/chat/completions').at(-1)!.body.messages.at(-1);
      assert.equal(user.role, 'user');
      assert.match(user.content, /def rev\(xs\):\n {4}return xs\[::-1\]/);
      assert.match(user.content, /import sys/, 'surrounding lines as context');
      assert.match(user.content, /lines 3–4/);
    });
  });
}

describe('remote server: failures', () => {
  test('connection resets are retried with backoff, 5xx from a gateway too; the answer arrives', async () => {
    const server = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: 'm' }], chat: () => ['fine'] });
    await server.start();
    const c = await startWith(server, {});
    try {
      await waitForStatus(c, (s) => s.remote?.state === 'ok');
      server.failNext('/v1/chat/completions', 2, { kind: 'reset' });
      const r = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      assert.equal((r.result as ChatResult).text, 'fine');
      assert.equal(server.received('/v1/chat/completions').length, 3);
      server.failNext('/v1/chat/completions', 1, { kind: 'status', status: 503 });
      const r2 = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal((r2.result as ChatResult).text, 'fine');
      assert.equal(server.received('/v1/chat/completions').length, 5);
      // 400 is the request's fault: asked once, the error names the server and keeps its words
      server.failNext('/v1/chat/completions', 1, { kind: 'status', status: 400, body: { object: 'error', message: "This model's maximum context length is 4096 tokens", code: 400 } });
      const r3 = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal(r3.error?.code, -32803);
      assert.deepEqual(r3.error?.data, { reason: 'remoteError' });
      assert.match(r3.error!.message, /HTTP 400: This model's maximum context length is 4096 tokens/);
      assert.ok(r3.error!.message.includes(server.url));
      assert.equal(server.received('/v1/chat/completions').length, 6);
    } finally {
      await c.shutdownAndExit();
      await server.stop();
    }
  });

  test('an outage: the status says the server is unreachable and names it, completions are empty, chat fails with the reason; all recover when it returns', async () => {
    const server = new OpenAiStandIn({ dialect: 'sglang', models: [{ id: 'Qwen/Qwen2.5-Coder-7B' }], completion: () => ['1'], chat: () => ['back'] });
    await server.start();
    const c = await startWith(server, {});
    try {
      await waitForStatus(c, (s) => s.remote?.state === 'ok');
      const uri = 'file:///remote/outage.py';
      c.open(uri, 'x = \n', 'python');
      assert.deepEqual(items(await c.inline(uri, 0, 4).response).map((i) => i.insertText), ['1']);
      await server.stop();
      const mark = c.notifications.length;
      c.change(uri, 2, 'y = \n');
      const t0 = performance.now();
      assert.deepEqual(items(await c.inline(uri, 0, 4).response), [], 'no suggestion during the outage');
      const down = await waitForStatus(c, (s) => s.remote?.state === 'unreachable', mark);
      assert.equal(down.state, 'error');
      assert.equal(down.remote!.url, server.url);
      assert.ok(down.message?.includes(server.url), `the message names the server: ${down.message}`);
      // while it is down, completions answer at once
      c.change(uri, 3, 'z = \n');
      const t1 = performance.now();
      assert.deepEqual(items(await c.inline(uri, 0, 4).response), []);
      assert.ok(performance.now() - t1 < 2000, `a completion during the outage answered in ${Math.round(performance.now() - t1)} ms`);
      assert.ok(performance.now() - t0 < 15_000);
      const chat = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal(chat.error?.code, -32803);
      assert.deepEqual(chat.error?.data, { reason: 'remoteUnreachable' });
      assert.ok(chat.error!.message.includes(server.url), chat.error!.message);
      assert.equal((await c.status()).remote?.state, 'unreachable', 'the daemon keeps answering');
      // the server returns on the same port: the probe finds it
      const mark2 = c.notifications.length;
      await server.start();
      const up = await waitForStatus(c, (s) => s.remote?.state === 'ok', mark2, 40_000);
      assert.equal(up.state, 'ready');
      c.change(uri, 4, 'w = \n');
      assert.deepEqual(items(await c.inline(uri, 0, 4).response).map((i) => i.insertText), ['1']);
      const back = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal((back.result as ChatResult).text, 'back');
    } finally {
      await c.shutdownAndExit();
      await server.stop();
    }
  });

  test('a refused key: unauthorized in the status, RequestFailed for chat, not retried; a new key from the editor fixes it without a restart', async () => {
    const server = new OpenAiStandIn({ dialect: 'llama-server', models: [{ id: 'coder.gguf' }], apiKey: 'key-1', chat: () => ['authorised'] });
    await server.start();
    const c = await startWith(server, {}, { MOECODE_REMOTE_API_KEY: 'key-1' });
    try {
      const ok = await waitForStatus(c, (s) => s.remote?.state === 'ok' || s.remote?.state === 'unauthorized');
      assert.equal(ok.remote?.state, 'ok', 'the key from MOECODE_REMOTE_API_KEY is sent');
      assert.equal(server.received('/v1/models').at(-1)!.authorization, 'Bearer key-1');
      // the server's key changes: the next chat is refused once, and not retried
      server.apiKey = 'key-2';
      const mark = c.notifications.length;
      const r = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal(r.error?.code, -32803);
      assert.deepEqual(r.error?.data, { reason: 'remoteUnauthorized' });
      assert.match(r.error!.message, /refused the API key \(HTTP 401: Invalid API Key\)/);
      assert.equal(server.received('/v1/chat/completions').length, 1);
      const refused = await waitForStatus(c, (s) => s.remote?.state === 'unauthorized', mark);
      assert.equal(refused.state, 'error');
      assert.ok(refused.message?.includes(server.url));
      // the editor sends the new key (VS Code: from SecretStorage)
      const mark2 = c.notifications.length;
      c.notify('moecode/remote/didChangeApiKey', { apiKey: 'key-2' });
      await waitForStatus(c, (s) => s.remote?.state === 'ok', mark2);
      const r2 = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal((r2.result as ChatResult).text, 'authorised');
      assert.equal(server.received('/v1/chat/completions').at(-1)!.authorization, 'Bearer key-2');
      // null from the editor: no key at all (not the environment's old one)
      const mark3 = c.notifications.length;
      c.notify('moecode/remote/didChangeApiKey', { apiKey: null });
      await waitForStatus(c, (s) => s.remote?.state === 'unauthorized', mark3);
      assert.equal(server.received('/v1/models').at(-1)!.authorization, undefined);
      // a malformed notification is ignored with a warning, the daemon carries on
      c.notify('moecode/remote/didChangeApiKey', { apiKey: 42 });
      assert.equal((await c.status()).remote?.state, 'unauthorized');
      assert.ok(c.logMessages().some((m) => /apiKey must be a string or null/.test(m)));
    } finally {
      await c.shutdownAndExit();
      await server.stop();
    }
  });

  test('a chat stream the server closes mid-answer: remoteError saying the answer was cut, after the deltas that came', async () => {
    const server = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: 'm' }], chat: () => ['half ', 'an ', 'answer'] });
    server.cutChatStreams = true;
    await server.start();
    const c = await startWith(server, {});
    try {
      await waitForStatus(c, (s) => s.remote?.state === 'ok');
      const { r, deltas } = await streamedChat(c, 'cut', { messages: [{ role: 'user', content: 'hi' }] });
      assert.deepEqual(r.error?.data, { reason: 'remoteError' });
      assert.match(r.error!.message, /without a finish reason or \[DONE\]/);
      assert.equal(deltas.join(''), 'half an answer', 'the text that came was streamed');
      server.cutChatStreams = false;
      const whole = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal((whole.result as ChatResult).text, 'half an answer');
    } finally {
      await c.shutdownAndExit();
      await server.stop();
    }
  });

  test('a key sealed with the secret in the daemon environment is used; the sealed text never holds the key; a key sealed for another daemon is refused', async () => {
    const server = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: 'm' }], apiKey: 'sk-sealed-1', chat: () => ['sealed ok'] });
    await server.start();
    const secret = newSealSecret();
    const c = await startWith(server, {}, { [KEY_SEAL_ENV]: secret });
    try {
      await waitForStatus(c, (s) => s.remote?.state === 'unauthorized');
      const sealed = sealApiKey('sk-sealed-1', secret);
      assert.ok(!sealed.includes('sk-sealed') && !Buffer.from(sealed, 'base64').toString('latin1').includes('sk-sealed'), 'what goes over LSP (and into a trace) does not show the key');
      const mark = c.notifications.length;
      c.notify('moecode/remote/didChangeApiKey', { apiKey: null, sealedApiKey: sealed });
      await waitForStatus(c, (s) => s.remote?.state === 'ok', mark);
      assert.equal(server.received('/v1/models').at(-1)!.authorization, 'Bearer sk-sealed-1');
      const r = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal((r.result as ChatResult).text, 'sealed ok');
      // sealed with another secret (another daemon's), or altered: ignored with a warning, the key stays
      c.notify('moecode/remote/didChangeApiKey', { apiKey: null, sealedApiKey: sealApiKey('sk-other', newSealSecret()) });
      const tampered = Buffer.from(sealed, 'base64');
      tampered[tampered.length - 1]! ^= 1;
      c.notify('moecode/remote/didChangeApiKey', { apiKey: null, sealedApiKey: tampered.toString('base64') });
      assert.equal((await c.status()).remote?.state, 'ok');
      assert.equal(c.logMessages().filter((m) => /does not open with this daemon's secret/.test(m)).length, 2);
      assert.ok(!c.logMessages().some((m) => m.includes('sk-sealed') || m.includes('sk-other')), 'no log line holds a key');
    } finally {
      await c.shutdownAndExit();
      await server.stop();
    }
  });

  test('cancelling a chat answers with the text so far and closes the HTTP request', async () => {
    const server = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: 'm' }], chat: () => Array.from({ length: 300 }, (_, i) => `w${i} `), pieceDelayMs: 10 });
    await server.start();
    const c = await startWith(server, {});
    try {
      await waitForStatus(c, (s) => s.remote?.state === 'ok');
      const req = c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'talk' }], streamId: 'long' });
      await c.waitForNotification('moecode/stream/didAppend', (p: StreamAppendParams) => p.streamId === 'long' && p.seq >= 2, 10_000);
      c.cancel(req.id);
      const r = await req.response;
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      const result = r.result as ChatResult;
      assert.equal(result.stopReason, 'cancelled');
      assert.ok(result.text.startsWith('w0 w1 w2 '), result.text);
      assert.ok(result.text.length < 300 * 4);
      const sent = server.received('/v1/chat/completions').at(-1)!;
      for (let i = 0; i < 100 && sent.outcome === 'pending'; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(sent.outcome, 'client-closed');
    } finally {
      await c.shutdownAndExit();
      await server.stop();
    }
  });

  test('more chats at once than the limit: the extra one is refused with queueFull and nothing is sent for it', async () => {
    const server = new OpenAiStandIn({ dialect: 'sglang', models: [{ id: 'm' }], chat: () => Array.from({ length: 400 }, () => '.'), pieceDelayMs: 10 });
    await server.start();
    const c = await startWith(server, {});
    try {
      await waitForStatus(c, (s) => s.remote?.state === 'ok');
      const running = Array.from({ length: 4 }, (_, i) => c.request('moecode/chat/send', { messages: [{ role: 'user', content: `q${i}` }], streamId: `busy-${i}` }));
      for (let i = 0; i < 4; i++) await c.waitForNotification('moecode/stream/didAppend', (p: StreamAppendParams) => p.streamId === `busy-${i}`, 10_000);
      const status = await c.status();
      assert.equal(status.state, 'busy');
      const extra = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'one more' }] }).response;
      assert.equal(extra.error?.code, -32803);
      assert.deepEqual(extra.error?.data, { reason: 'queueFull' });
      assert.equal(server.received('/v1/chat/completions').length, 4);
      for (const r of running) c.cancel(r.id);
      for (const r of running) assert.equal(((await r.response).result as ChatResult).stopReason, 'cancelled');
    } finally {
      await c.shutdownAndExit();
      await server.stop();
    }
  });

  test('a URL that is not http(s): the status says so; completions and chat fail with remoteError', async () => {
    const c = await startDaemon({ env: { MOECODE_REMOTE_API_KEY: '' }, settings: { remote: { url: 'ftp://gpu-box/v1' } } });
    try {
      const s = await waitForStatus(c, (s) => s.remote !== undefined);
      assert.equal(s.state, 'error');
      assert.equal(s.remote!.state, 'error');
      assert.match(s.message ?? '', /must start with http:\/\/ or https:\/\//);
      const uri = 'file:///remote/bad-url.py';
      c.open(uri, 'x = \n', 'python');
      const r = await c.inline(uri, 0, 4).response;
      assert.deepEqual(r.error?.data, { reason: 'remoteError' });
      const chat = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.deepEqual(chat.error?.data, { reason: 'remoteError' });
    } finally {
      await c.shutdownAndExit();
    }
  });
});

describe('remote server: switching from and back to the local model', () => {
  let noModel: string | undefined;
  let model = '';
  before(async () => {
    noModel = await modelUnavailable();
    if (!noModel) model = await ensureModel(TEST_MODEL_SPEC);
  });

  test('a URL set unloads the local model; cleared, the local model loads again; the same process throughout; no local load while remote', async (t) => {
    if (noModel) return t.skip(noModel);
    const server = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: 'remote-coder' }], chat: () => ['from the server'] });
    await server.start();
    const c = await startDaemon({ env: { MOECODE_MODEL: model, MOECODE_REMOTE_API_KEY: '' }, settings: { chat: { maxTokens: 8, temperature: 0 } } });
    try {
      const local = await c.waitForState(['ready', 'error']);
      assert.equal(local.state, 'ready', local.message);
      assert.equal(local.remote, undefined);
      assert.ok((await c.debugState()).slots.length > 0);
      const pid = c.child.pid;

      const mark = reconfigure(c, { url: server.url });
      const remote = await waitForStatus(c, (s) => s.remote?.state === 'ok', mark);
      assert.equal(remote.modelName, 'remote-coder');
      for (let i = 0; i < 100 && (await c.debugState()).slots.length > 0; i++) await new Promise((r) => setTimeout(r, 50));
      assert.equal((await c.debugState()).slots.length, 0, 'the local model was unloaded');
      const chat = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal((chat.result as ChatResult).text, 'from the server');
      const load = await c.request('moecode/model/load', {}).response;
      assert.deepEqual(load.error?.data, { reason: 'remoteActive' });

      const mark2 = reconfigure(c, { url: '' });
      const back = await waitForStatus(c, (s) => s.state === 'ready' && s.remote === undefined, mark2, 120_000);
      assert.equal(back.modelName, 'moecode-llama-tiny');
      assert.ok((await c.debugState()).slots.length > 0);
      assert.equal(c.child.pid, pid);
      assert.equal(c.child.exitCode, null, 'no restart');
      const served = server.received('/v1/chat/completions').length;
      const localChat = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal(localChat.error, undefined, JSON.stringify(localChat.error));
      assert.equal(server.received('/v1/chat/completions').length, served, 'the local model answered');
    } finally {
      await c.shutdownAndExit();
      await server.stop();
    }
  });
});
