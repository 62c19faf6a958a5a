/**
 * The daemon using `moecode serve` in another process as its remote server (both real processes, real
 * HTTP): the shipped model's id from /v1/models, inline completions through /infill (the model is of
 * no known FIM family) equal to serve's own /infill answer after the daemon's post filters, chat equal
 * to serve's own /v1/chat/completions answer for the same messages, explain streamed, the API key
 * checked, and an outage of the server (stopped, then started again on the same port) seen and
 * recovered from. Skips with a reason where `moecode serve` or a WebGPU adapter is missing.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { completionContext } from '../../daemon/completion/completion-context.js';
import { postProcess } from '../../daemon/completion/pipeline.js';
import { DEFAULT_SYSTEM_PROMPT } from '../../daemon/features/chat-prompt.js';
import type { ChatResult, StatusParams, StreamAppendParams } from '../../daemon/protocol.js';
import { modelUnavailable, REPO, startDaemon, type DaemonClient } from './daemon-harness.js';
import type { RpcResponse } from './json-rpc-client.js';

const KEY = 'remote-serve-key-42';
const SERVE_SOURCE = join(REPO, 'daemon', 'serve', 'http-server.ts');
const STATUS = 'moecode/status/didChange';

type ServeHarness = typeof import('./serve-harness.js');
type ServeProcess = Awaited<ReturnType<ServeHarness['startServe']>>;

let skip: string | undefined;
let harness: ServeHarness;

before(async () => {
  if (!existsSync(SERVE_SOURCE)) {
    skip = '`moecode serve` is not in this checkout (daemon/serve/http-server.ts is missing)';
    return;
  }
  skip = await modelUnavailable();
  if (skip) return;
  harness = await import('./serve-harness.js');
});

async function waitForStatus(c: DaemonClient, match: (s: StatusParams) => boolean, since = 0, timeoutMs = 60_000): Promise<StatusParams> {
  return (await c.waitForNotification(STATUS, match, timeoutMs, since)).params as StatusParams;
}

function items(r: RpcResponse): string[] {
  assert.equal(r.error, undefined, JSON.stringify(r.error));
  return (r.result as { items: { insertText: string }[] }).items.map((i) => i.insertText);
}

describe('the daemon on moecode serve', () => {
  let serve: ServeProcess | undefined;
  let c: DaemonClient | undefined;
  let port = 0;

  before(async () => {
    if (skip) return;
    serve = await harness.startServe([harness.SHIPPED_MODEL, '--port', '0', '--api-key', KEY]);
    await harness.whenHealthy(serve.url);
    port = Number(new URL(serve.url).port);
    c = await startDaemon({
      env: { MOECODE_REMOTE_API_KEY: KEY },
      settings: { remote: { url: `${serve.url}/v1` }, completion: { maxTokens: 12, temperature: 0 }, chat: { maxTokens: 24, temperature: 0 } },
    });
  });
  after(async () => {
    await c?.shutdownAndExit();
    await serve?.stop();
  });

  test('the status names serve and its model', async (t) => {
    if (skip) return t.skip(skip);
    const s = await waitForStatus(c!, (s) => s.remote?.state === 'ok' || s.remote?.state === 'unauthorized' || s.remote?.state === 'error');
    assert.equal(s.remote!.state, 'ok', s.message);
    assert.equal(s.modelName, 'moecode-coder');
    assert.equal(s.remote!.url, `${serve!.url}/v1`);
  });

  test("an inline completion is serve's /infill answer through the daemon's post filters", async (t) => {
    if (skip) return t.skip(skip);
    const prefix = 'def add(a, b):\n    ret';
    const suffix = '\n\nprint(add(1, 2))\n';
    const direct = await harness.http(serve!.url, '/infill', {
      headers: { Authorization: `Bearer ${KEY}` },
      body: { input_prefix: prefix, input_suffix: suffix, n_predict: 12, temperature: 0 },
    });
    assert.equal(direct.status, 200, direct.text);
    const expected = postProcess(direct.json<{ content: string }>().content, completionContext(prefix, suffix, { languageId: 'python' }));
    assert.ok(expected.trim().length > 0, `the shipped model suggests something here: ${JSON.stringify(direct.json())}`);
    const uri = 'file:///remote-serve/add.py';
    c!.open(uri, prefix + suffix, 'python');
    assert.deepEqual(items(await c!.inline(uri, 1, 7).response), [expected]);
    assert.equal((await c!.status()).remote?.fim, 'infill');
  });

  test("chat is serve's own answer to the same messages; explain streams", async (t) => {
    if (skip) return t.skip(skip);
    const question = 'How do I reverse a list in Python?';
    const direct = await harness.http(serve!.url, '/v1/chat/completions', {
      headers: { Authorization: `Bearer ${KEY}` },
      body: { model: 'moecode-coder', messages: [{ role: 'system', content: DEFAULT_SYSTEM_PROMPT }, { role: 'user', content: question }], max_tokens: 24, temperature: 0 },
    });
    assert.equal(direct.status, 200, direct.text);
    const expected = direct.json<{ choices: { message: { content: string } }[] }>().choices[0]!.message.content;
    assert.ok(expected.length > 0);
    const r = await c!.request('moecode/chat/send', { messages: [{ role: 'user', content: question }], streamId: 'serve-chat' }).response;
    assert.equal(r.error, undefined, JSON.stringify(r.error));
    assert.equal((r.result as ChatResult).text, expected);

    const uri = 'file:///remote-serve/rev.py';
    c!.open(uri, 'def rev(xs):\n    return xs[::-1]\n', 'python');
    const e = await c!.request('moecode/code/explain', { textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } }, streamId: 'serve-explain' }).response;
    assert.equal(e.error, undefined, JSON.stringify(e.error));
    const text = (e.result as ChatResult).text;
    const streamed = c!.notifications
      .filter((n) => n.method === 'moecode/stream/didAppend' && (n.params as StreamAppendParams).streamId === 'serve-explain')
      .map((n) => (n.params as StreamAppendParams).delta)
      .join('');
    assert.ok(text.length > 0);
    assert.equal(streamed, text);
  });

  test('a wrong key is refused by serve and shows as unauthorized; the right key recovers', async (t) => {
    if (skip) return t.skip(skip);
    const mark = c!.notifications.length;
    c!.notify('moecode/remote/didChangeApiKey', { apiKey: 'wrong-key' });
    await waitForStatus(c!, (s) => s.remote?.state === 'unauthorized', mark);
    const r = await c!.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
    assert.deepEqual(r.error?.data, { reason: 'remoteUnauthorized' });
    const mark2 = c!.notifications.length;
    c!.notify('moecode/remote/didChangeApiKey', { apiKey: KEY });
    await waitForStatus(c!, (s) => s.remote?.state === 'ok', mark2);
  });

  test('serve stopped: unreachable, naming it; started again on the same port: the daemon recovers', async (t) => {
    if (skip) return t.skip(skip);
    const mark = c!.notifications.length;
    await serve!.stop();
    const chat = await c!.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
    assert.deepEqual(chat.error?.data, { reason: 'remoteUnreachable' });
    const down = await waitForStatus(c!, (s) => s.remote?.state === 'unreachable', mark);
    assert.ok(down.message?.includes(`127.0.0.1:${port}`), down.message);
    const mark2 = c!.notifications.length;
    serve = await harness.startServe([harness.SHIPPED_MODEL, '--port', String(port), '--api-key', KEY]);
    await harness.whenHealthy(serve.url);
    await waitForStatus(c!, (s) => s.remote?.state === 'ok', mark2, 90_000);
    const again = await c!.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
    assert.equal(again.error, undefined, JSON.stringify(again.error));
  });
});
