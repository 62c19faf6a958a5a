/**
 * The remote HTTP client against real sockets on 127.0.0.1: deadlines for silent servers (no headers,
 * a stream that stops), bounded JSON, typed errors, retries for connection failures and 502/503/504
 * only, and an abort that closes the connection.
 */
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, test } from 'node:test';
import { RemoteHttpError, RemoteProtocolError, RemoteUnauthorizedError, RemoteUnreachableError, RequestAbortedError, StreamCutError } from '../../daemon/remote/errors.js';
import { MAX_JSON_BYTES, RemoteHttpClient, retryDelayMs, type RequestPolicy } from '../../daemon/remote/http-client.js';
import { MAX_ANSWER_CHARS_PER_TOKEN, streamChat } from '../../daemon/remote/remote-chat.js';
import { streamCompletion } from '../../daemon/remote/remote-completion.js';
import { OpenAiStandIn } from '../helpers/openai-stand-in.js';

const FAST: RequestPolicy = { attempts: 1, headersTimeoutMs: 300, idleTimeoutMs: 300 };
/** For requests that must succeed or fail for another reason than a deadline: room for a loaded machine. */
const ROOMY: RequestPolicy = { attempts: 1, headersTimeoutMs: 10_000, idleTimeoutMs: 10_000 };
const client = (base: string, key?: string) => new RemoteHttpClient(base, { apiKey: () => key, retryDelayMs: () => 10 });
const closers: (() => Promise<void>)[] = [];
after(async () => {
  for (const c of closers) await c();
});

async function listen<S extends HttpServer | NetServer>(server: S): Promise<{ server: S; base: string; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, sockets };
}

test('retry backoff doubles from 250 ms and stops at 4 s', () => {
  assert.deepEqual([1, 2, 3, 4, 5, 6, 7].map(retryDelayMs), [250, 500, 1000, 2000, 4000, 4000, 4000]);
});

test('a server that accepts the connection and never answers: unreachable after the headers deadline, retried as asked', async () => {
  // requests, not connections: fetch's pool may open a spare connection after an abort
  let requests = 0;
  const { base } = await listen(createNetServer((sock) => sock.once('data', () => requests++)));
  const t0 = performance.now();
  await assert.rejects(client(base).getJson(`${base}/models`, FAST), (e: unknown) => e instanceof RemoteUnreachableError && /no answer within 0.3 s/.test(e.message));
  assert.ok(performance.now() - t0 < 3000);
  await assert.rejects(client(base).getJson(`${base}/models`, { ...FAST, attempts: 2 }), RemoteUnreachableError);
  assert.equal(requests, 3);
  // a POST the server took but did not answer in time is not sent again: it may be running
  await assert.rejects(
    (async () => {
      for await (const _ev of client(base).stream(`${base}/chat/completions`, { stream: true }, { ...FAST, attempts: 3 })) void _ev;
    })(),
    (e: unknown) => e instanceof RemoteUnreachableError && !e.retryable && /no answer within 0.3 s/.test(e.message),
  );
  assert.equal(requests, 4);
});

test('a stream that stops sending: the events so far, then unreachable after the idle deadline', async () => {
  const { base } = await listen(
    createHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.write('data: {"choices":[{"index":0,"delta":{"content":"hi"}}]}\n\n');
    }),
  );
  const got: string[] = [];
  await assert.rejects(
    (async () => {
      for await (const ev of client(base).stream(`${base}/chat/completions`, {}, FAST)) got.push(ev.data);
    })(),
    (e: unknown) => e instanceof RemoteUnreachableError && /no data for 0.3 s/.test(e.message),
  );
  assert.equal(got.length, 1);
});

test('no server at all: ECONNREFUSED, retried with backoff', async () => {
  const { server, base } = await listen(createNetServer());
  await new Promise<void>((r) => server.close(() => r()));
  const t0 = performance.now();
  await assert.rejects(client(base).getJson(`${base}/models`, { ...FAST, attempts: 3 }), (e: unknown) => e instanceof RemoteUnreachableError && e.reason === 'ECONNREFUSED');
  assert.ok(performance.now() - t0 >= 20, 'two backoff waits');
});

test('a JSON answer over the bound is refused, not buffered', async () => {
  const { base } = await listen(
    createHttpServer((_req, res) => {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i <= MAX_JSON_BYTES / chunk.length; i++) res.write(chunk);
      res.end('{}');
    }),
  );
  await assert.rejects(client(base).getJson(`${base}/models`, { ...ROOMY }), (e: unknown) => e instanceof RemoteProtocolError && /larger than/.test(e.message));
});

test('HTTP errors are typed; 4xx is never retried, 503 is, resets are', async () => {
  const s = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: 'm' }], apiKey: 'k' });
  await s.start();
  closers.push(() => s.stop());
  const policy = { ...ROOMY, attempts: 3 };
  await assert.rejects(client(s.url, 'wrong').getJson(`${s.url}/models`, policy), (e: unknown) => e instanceof RemoteUnauthorizedError && e.status === 401 && e.detail === 'Unauthorized');
  assert.equal(s.received('/v1/models').length, 1);
  await assert.rejects(client(s.url, 'k').postJson(`${s.url}/nothing`, {}, policy), (e: unknown) => e instanceof RemoteHttpError && e.status === 404 && !e.retryable);
  assert.equal(s.received('/v1/nothing').length, 1);
  s.failNext('/v1/models', 3, { kind: 'status', status: 503 });
  await assert.rejects(client(s.url, 'k').getJson(`${s.url}/models`, policy), (e: unknown) => e instanceof RemoteHttpError && e.status === 503);
  assert.equal(s.received('/v1/models').length, 4);
  s.failNext('/v1/models', 2, { kind: 'reset' });
  const list = (await client(s.url, 'k').getJson(`${s.url}/models`, policy)) as { data: { id: string }[] };
  assert.equal(list.data[0]!.id, 'm');
  assert.equal(s.received('/v1/models').length, 7);
});

test('aborting a stream closes the connection and throws RequestAbortedError', async () => {
  const s = new OpenAiStandIn({ dialect: 'sglang', models: [{ id: 'm' }], chat: () => Array.from({ length: 500 }, () => 'x'), pieceDelayMs: 5 });
  await s.start();
  closers.push(() => s.stop());
  const ac = new AbortController();
  let n = 0;
  await assert.rejects(
    (async () => {
      for await (const _ev of client(s.url).stream(`${s.url}/chat/completions`, { stream: true }, ROOMY, ac.signal)) if (++n === 3) ac.abort();
    })(),
    RequestAbortedError,
  );
  const rec = s.received('/v1/chat/completions')[0]!;
  for (let i = 0; i < 100 && rec.outcome === 'pending'; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(rec.outcome, 'client-closed');
});

test('an error answer is read only up to a bound; its words are kept short', async () => {
  const { base } = await listen(
    createHttpServer((_req, res) => {
      res.writeHead(400, { 'Content-Type': 'text/plain' });
      const chunk = Buffer.alloc(1024 * 1024, 0x61);
      for (let i = 0; i < 16; i++) res.write(chunk);
      res.end();
    }),
  );
  await assert.rejects(client(base).postJson(`${base}/completions`, {}, { ...ROOMY }), (e: unknown) => e instanceof RemoteHttpError && e.status === 400 && e.detail.length <= 301);
});

test('a chat answer longer than asked for is cut off (stopReason length) and the connection closed', async () => {
  const s = new OpenAiStandIn({ dialect: 'vllm', models: [{ id: 'm' }], chat: () => Array.from({ length: 50 }, () => 'x'.repeat(40)), pieceDelayMs: 1 });
  await s.start();
  closers.push(() => s.stop());
  const deltas: string[] = [];
  const r = await streamChat(client(s.url), 'm', { messages: [{ role: 'user', content: 'hi' }], maxTokens: 4, temperature: 0, onText: (d) => deltas.push(d), signal: new AbortController().signal }, ROOMY);
  assert.equal(r.stopReason, 'length');
  assert.equal(r.text.length, 4 * MAX_ANSWER_CHARS_PER_TOKEN);
  assert.equal(deltas.join(''), r.text);
  const rec = s.received('/v1/chat/completions')[0]!;
  for (let i = 0; i < 100 && rec.outcome === 'pending'; i++) await new Promise((res) => setTimeout(res, 10));
  assert.equal(rec.outcome, 'client-closed');
});

/** A server that streams `events` as SSE data lines and then closes the answer normally (res.end). */
async function streamingServer(events: string[]): Promise<string> {
  const { base } = await listen(
    createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'Content-Type': 'text/event-stream' });
        for (const e of events) res.write(`data: ${e}\n\n`);
        res.end();
      });
    }),
  );
  return base;
}

const chatChunk = (content: string | null, finish: string | null = null) => JSON.stringify({ object: 'chat.completion.chunk', choices: [{ index: 0, delta: { content }, finish_reason: finish }] });
const chatRequest = (onText: (d: string) => void) => ({ messages: [{ role: 'user' as const, content: 'hi' }], maxTokens: 64, temperature: 0, onText, signal: new AbortController().signal });

test('a chat stream closed mid-answer (no finish reason, no [DONE]) is a StreamCutError, and the text that came stays streamed', async () => {
  const base = await streamingServer([chatChunk('Hello'), chatChunk(', wor')]);
  const deltas: string[] = [];
  await assert.rejects(streamChat(client(base), 'm', chatRequest((d) => deltas.push(d)), ROOMY), (e: unknown) => e instanceof StreamCutError && e.receivedChars === 10 && e.retryable && /without a finish reason or \[DONE\]/.test(e.message));
  assert.equal(deltas.join(''), 'Hello, wor');
});

test('a chat stream with a finish reason but no [DONE] is a whole answer', async () => {
  const base = await streamingServer([chatChunk('Hello'), chatChunk('!', 'stop')]);
  const r = await streamChat(client(base), 'm', chatRequest(() => undefined), ROOMY);
  assert.deepEqual([r.text, r.stopReason], ['Hello!', 'eos']);
  const cut = await streamingServer([chatChunk('Hel'), '[DONE]']);
  assert.equal((await streamChat(client(cut), 'm', chatRequest(() => undefined), ROOMY)).text, 'Hel', '[DONE] alone ends an answer too');
});

test('a completion stream closed mid-answer gives no suggestion (StreamCutError); one that finishes gives its text', async () => {
  const completionChunk = (text: string, finish: string | null = null) => JSON.stringify({ object: 'text_completion', choices: [{ index: 0, text, finish_reason: finish }] });
  const request = (base: string) => ({ url: `${base}/completions`, body: { prompt: 'x', stream: true }, stops: [] as string[] });
  const req = { prefix: 'x', suffix: '', maxTokens: 16, temperature: 0, shouldStop: () => false, signal: new AbortController().signal };
  const cutBase = await streamingServer([completionChunk('return a'), completionChunk(' + ')]);
  await assert.rejects(streamCompletion(client(cutBase), request(cutBase), req, ROOMY), StreamCutError);
  const wholeBase = await streamingServer([completionChunk('return a'), completionChunk(' + b', 'stop')]);
  assert.deepEqual(await streamCompletion(client(wholeBase), request(wholeBase), req, ROOMY), { text: 'return a + b', stopReason: 'eos' });
  // llama-server's /infill format ends with stop: true and no [DONE]
  const infillBase = await streamingServer([JSON.stringify({ content: 'ab' }), JSON.stringify({ content: 'c', stop: true, stop_type: 'eos' })]);
  assert.deepEqual(await streamCompletion(client(infillBase), { ...request(infillBase), url: `${infillBase}/infill` }, req, ROOMY), { text: 'abc', stopReason: 'eos' });
});
