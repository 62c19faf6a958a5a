/**
 * The LSP lifecycle and error handling of the real daemon process over stdio: initialize, status
 * notifications while the model loads, error codes, model load failures and reloads without a
 * restart, shutdown and exit. stdout must carry nothing but protocol messages.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { StatusParams } from '../../daemon/protocol.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { modelUnavailable, startDaemon, TEST_MODEL_SPEC, type DaemonClient } from './daemon-harness.js';

let model = '';
/** Without a WebGPU adapter the model cannot load: the tests that need it skip, the rest still run. */
let noModel: string | undefined;

before(async () => {
  model = await ensureModel(TEST_MODEL_SPEC);
  noModel = await modelUnavailable();
});

describe('before initialize', () => {
  let c: DaemonClient;
  before(async () => {
    c = await startDaemon({ initialize: false, env: { MOECODE_MODEL: model } });
  });
  after(() => c.kill());

  test('requests fail with ServerNotInitialized (-32002)', async () => {
    const r = await c.request('moecode/status/get').response;
    assert.equal(r.error?.code, -32002);
  });
});

describe('a daemon with a model from MOECODE_MODEL', () => {
  let c: DaemonClient;
  let init: { capabilities: Record<string, unknown>; serverInfo: { name: string } };
  before(async () => {
    c = await startDaemon({ initialize: false, env: { MOECODE_MODEL: model } });
    init = await c.call('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
    c.notify('initialized', {});
  });
  after(() => c.kill());

  test('initialize announces inline completion and incremental sync', () => {
    assert.equal(init.serverInfo.name, 'moecode-daemon');
    assert.equal(init.capabilities.inlineCompletionProvider, true);
    assert.deepEqual(init.capabilities.textDocumentSync, { openClose: true, change: 2 });
  });

  test('status notifications arrive during load: loading with progress, then ready with the model and adapter', async (t) => {
    if (noModel) return t.skip(noModel);
    const ready = await c.waitForState(['ready', 'error']);
    assert.equal(ready.state, 'ready', ready.message);
    const seen = c.notifications.filter((n) => n.method === 'moecode/status/didChange').map((n) => n.params as StatusParams);
    const loading = seen.filter((s) => s.state === 'loading');
    assert.ok(loading.length >= 1, 'at least one loading notification');
    assert.equal(loading[0]!.progress, 0);
    assert.equal(loading[0]!.modelPath, model);
    assert.ok(seen.indexOf(loading[0]!) < seen.indexOf(ready), 'loading comes before ready');
    for (let i = 1; i < loading.length; i++) assert.ok(loading[i]!.progress >= loading[i - 1]!.progress, 'progress never goes back');
    assert.equal(ready.progress, 100);
    assert.equal(ready.modelName, 'moecode-llama-tiny');
    assert.ok(ready.adapter.length > 0);
    assert.equal(typeof ready.isSoftwareFallback, 'boolean');
    assert.ok(ready.memory && ready.memory.weightsBytes > 0 && ready.memory.kvSlots >= 1 && ready.memory.contextLength > 0);
    const got = await c.status();
    assert.equal(got.state, 'ready');
    assert.ok(c.logMessages().some((m) => m.includes('ready')), 'the load is logged through window/logMessage');
  });

  test('unknown methods get MethodNotFound (-32601); unknown notifications are ignored', async () => {
    c.notify('moecode/nothing/here', {});
    const r = await c.request('moecode/does/notExist', {}).response;
    assert.equal(r.error?.code, -32601);
    assert.ok((await c.status()).state, 'still alive');
  });

  test('malformed params get InvalidParams (-32602) naming the field', async () => {
    const uri = 'file:///lifecycle/a.ts';
    c.open(uri, 'let x = 1;\n');
    const cases: [string, unknown, RegExp][] = [
      ['textDocument/inlineCompletion', { textDocument: { uri } }, /position/],
      ['textDocument/inlineCompletion', { textDocument: { uri }, position: { line: -1, character: 0 }, context: { triggerKind: 1 } }, /line/],
      ['textDocument/inlineCompletion', { textDocument: { uri }, position: { line: 0, character: 0 }, context: { triggerKind: 7 } }, /triggerKind/],
      ['textDocument/inlineCompletion', { textDocument: { uri }, position: { line: 40, character: 0 }, context: { triggerKind: 1 } }, /past the end/],
      ['textDocument/inlineCompletion', 'nonsense', /params/],
      ['moecode/chat/send', { messages: [] }, /messages/],
      ['moecode/chat/send', { messages: [{ role: 'robot', content: 'x' }] }, /role/],
      ['moecode/chat/send', { messages: [{ role: 'user', content: 'x' }], maxTokens: -3 }, /maxTokens/],
      ['moecode/chat/send', { messages: [{ role: 'user', content: 'x' }], attachments: [{ kind: 'file' }] }, /attachments\[0\]/],
      ['moecode/code/explain', { textDocument: { uri }, range: { start: { line: 1, character: 0 }, end: { line: 0, character: 0 } } }, /range/],
      ['moecode/model/load', 42, /params/],
      ['moecode/chat/send', undefined, /params/],
    ];
    for (const [method, params, message] of cases) {
      const r = await c.request(method, params).response;
      assert.equal(r.error?.code, -32602, `${method} ${JSON.stringify(params)}: ${JSON.stringify(r)}`);
      assert.match(r.error!.message, message);
    }
  });

  test('requests about unknown or closed documents fail with RequestFailed (-32803), reason unknownDocument', async () => {
    const uri = 'file:///lifecycle/closed.ts';
    c.open(uri, 'x\n');
    c.close(uri);
    for (const target of [uri, 'file:///never/opened.ts']) {
      const r = await c.request('textDocument/inlineCompletion', { textDocument: { uri: target }, position: { line: 0, character: 0 }, context: { triggerKind: 1 } }).response;
      assert.equal(r.error?.code, -32803);
      assert.deepEqual(r.error?.data, { reason: 'unknownDocument' });
      const e = await c.request('moecode/code/explain', { textDocument: { uri: target }, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 1 } } }).response;
      assert.equal(e.error?.code, -32803);
      assert.match(e.error!.message, /not open/);
    }
  });

  test('a malformed message does not kill the daemon', async () => {
    c.sendRaw('{"jsonrpc":"2.0","id":9999,"method":'); // not JSON
    c.sendRaw('{"jsonrpc":"2.0","id":9998,"method":"textDocument/inlineCompletion","params":null}');
    assert.ok((await c.status()).state, 'still answering');
  });

  test('nothing but protocol messages on stdout', () => {
    assert.equal(c.garbage, '');
  });

  test('shutdown, then requests fail with InvalidRequest (-32600), then exit ends the process with 0', async () => {
    const r = await c.request('shutdown').response;
    assert.equal(r.error, undefined);
    assert.equal(r.result, null);
    const after = await c.request('moecode/status/get').response;
    assert.equal(after.error?.code, -32600);
    c.notify('exit');
    const { code } = await c.exited;
    assert.equal(code, 0);
  });
});

describe('model settings', () => {
  let c: DaemonClient;
  after(() => c?.kill());

  test('a bad model path is status error with the reason, requests fail with RequestFailed, and fixing the setting reloads without a restart', async (t) => {
    if (noModel) return t.skip(noModel);
    c = await startDaemon({ env: { MOECODE_MODEL: model }, initializationOptions: { moecode: { model: { path: '/nonexistent/model.gguf' } } } });
    const err = await c.waitForState(['error', 'ready']);
    assert.equal(err.state, 'error');
    assert.match(err.message ?? '', /nonexistent\/model\.gguf/);
    const uri = 'file:///settings/a.ts';
    c.open(uri, 'let x = 1;\n');
    const r = await c.inline(uri, 0, 8).response;
    assert.equal(r.error?.code, -32803);
    assert.deepEqual(r.error?.data, { reason: 'modelError' });
    const chat = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
    assert.equal(chat.error?.code, -32803);

    const pid = c.child.pid;
    const mark = c.notifications.length;
    c.settings = { model: { path: model } };
    c.notify('workspace/didChangeConfiguration', { settings: null });
    const ready = await c.waitForState(['ready', 'error'], 120_000, mark);
    assert.equal(ready.state, 'ready', ready.message);
    assert.equal(ready.modelPath, model);
    assert.equal(c.child.pid, pid);
    assert.ok(c.configRequests.length >= 2, 'settings were pulled again with workspace/configuration');
    const ok = await c.inline(uri, 0, 8).response;
    assert.equal(ok.error, undefined, JSON.stringify(ok.error));
  });

  test('moecode/model/unload and moecode/model/load', async (t) => {
    if (noModel) return t.skip(noModel);
    const unloaded = await c.call<StatusParams>('moecode/model/unload');
    assert.equal(unloaded.state, 'unloaded');
    const r = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
    assert.deepEqual(r.error?.data, { reason: 'noModel' });
    const loaded = await c.call<StatusParams>('moecode/model/load', { path: model });
    assert.equal(loaded.state, 'ready');
    const bad = await c.request('moecode/model/load', { path: '/nope.gguf' }).response;
    assert.equal(bad.error?.code, -32803);
    assert.deepEqual(bad.error?.data, { reason: 'modelError' });
    // the model that was loaded keeps answering; the status says the new one failed
    const kept = await c.status();
    assert.equal(kept.state, 'ready');
    assert.equal(kept.modelPath, model);
    assert.match(kept.message ?? '', /Could not load \/nope\.gguf.*Still using/);
  });

  test('a memory budget too small for the model is refused with the numbers', async (t) => {
    if (!c) return t.skip(noModel ?? 'no daemon');
    const mark = c.notifications.length;
    c.settings = { model: { path: model }, gpu: { memoryBudget: 1 } };
    c.notify('workspace/didChangeConfiguration', { settings: null });
    const s = await c.waitForState(['error', 'ready'], 120_000, mark);
    assert.equal(s.state, 'error');
    assert.match(s.message ?? '', /needs about \d+ MB .*memoryBudget is 1 MB/);
  });

  test('exit without shutdown ends the process with 1', async () => {
    c ??= await startDaemon({ env: { MOECODE_MODEL: '/nonexistent.gguf' } });
    c.notify('exit');
    const { code } = await c.exited;
    assert.equal(code, 1);
  });
});

describe('the Node IPC transport (--node-ipc)', () => {
  test('initialize and status over process.send messages', async (t) => {
    if (noModel) return t.skip(noModel);
    const { spawn } = await import('node:child_process');
    const { daemonCommand, REPO } = await import('./daemon-harness.js');
    const { command, args } = daemonCommand();
    const ipcArgs = args.map((a) => (a === '--stdio' ? '--node-ipc' : a));
    const child = spawn(command, ipcArgs, { cwd: REPO, env: { ...process.env, MOECODE_MODEL: model }, stdio: ['pipe', 'pipe', 'pipe', 'ipc'] });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const responses = new Map<number, (m: { result?: unknown; error?: { code: number } }) => void>();
      const notifications: { method: string; params: unknown }[] = [];
      let onNote: (() => void) | undefined;
      child.on('message', (m: { id?: number; method?: string; params?: unknown; result?: unknown; error?: { code: number } }) => {
        if (m.method && m.id === undefined) {
          notifications.push({ method: m.method, params: m.params });
          onNote?.();
        } else if (typeof m.id === 'number' && !m.method) responses.get(m.id)?.(m);
      });
      let nextId = 1;
      const call = (method: string, params?: unknown) =>
        new Promise<{ result?: unknown; error?: { code: number } }>((resolve) => {
          const id = nextId++;
          responses.set(id, resolve);
          child.send({ jsonrpc: '2.0', id, method, params });
        });
      const init = await call('initialize', { processId: process.pid, rootUri: null, capabilities: {} });
      assert.equal((init.result as { capabilities: { inlineCompletionProvider: boolean } }).capabilities.inlineCompletionProvider, true);
      child.send({ jsonrpc: '2.0', method: 'initialized', params: {} });
      const isReady = () => notifications.some((n) => n.method === 'moecode/status/didChange' && ['ready', 'error'].includes((n.params as StatusParams).state));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no ready status over IPC')), 120_000);
        onNote = () => {
          if (isReady()) {
            clearTimeout(timer);
            resolve();
          }
        };
        onNote();
      });
      const status = await call('moecode/status/get');
      assert.equal((status.result as StatusParams).state, 'ready');
      await call('shutdown');
      child.send({ jsonrpc: '2.0', method: 'exit' });
      assert.equal(await exited, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
