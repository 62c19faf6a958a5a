/**
 * `moecode serve` on the shipped model as a real child process, over raw HTTP: it listens while the
 * model loads (/health 503, then 200); the SSE wire format; llama.vscode's exact /infill request; error
 * answers in OpenAI's shape (400 invalid JSON or a bad field, 401 without the API key, 403 for a foreign
 * Host, 404, 405, 413 over the body limit, 415 for browser form posts, 429 with a full queue); a client
 * that disconnects cancels its generation; a FIM request goes ahead of a long generation; bad model
 * files, ports and flags end the command with a clear message.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { webgpuUnavailable } from './daemon-harness.js';
import { eventually, http, SHIPPED_MODEL, serveStatus, sseData, startServe, startStream, whenHealthy, type ServeProcess } from './serve-harness.js';

const TEN_MIB = 10 * 1024 * 1024;
/** A prompt the shipped model continues for hundreds of tokens at temperature 0 (no end of text). */
const LONG_PROMPT = 'class Parser:\n    def __init__(self, text):\n';
const LONG = { prompt: LONG_PROMPT, max_tokens: 200, temperature: 0 };

/** The body llama.vscode sends to /infill (src/llama-server.ts, createRequestPayload), cursor after `    ret`. */
const LLAMA_VSCODE_INFILL = {
  input_prefix: 'import os\n\n\ndef add(a, b):\n',
  input_suffix: '\n\nprint(add(1, 2))\n',
  input_extra: [{ text: 'def sub(a, b):\n    return a - b\n', time: 1733000000000, filename: 'util.py' }],
  prompt: '    ret',
  n_predict: 128,
  top_k: 40,
  top_p: 0.99,
  stream: false,
  samplers: ['top_k', 'top_p', 'infill'],
  cache_prompt: true,
  n_indent: 4,
  t_max_prompt_ms: 500,
  t_max_predict_ms: 2500,
};

let noGpu: string | undefined;
before(async () => {
  noGpu = await webgpuUnavailable();
});

/** Sends `raw` bytes as the whole request and resolves with everything the server answers until it closes. */
function rawRequest(url: string, raw: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = connect(Number(port), hostname, () => sock.end(raw));
    let out = '';
    sock.setEncoding('utf8').on('data', (d: string) => (out += d));
    sock.on('end', () => resolve(out));
    sock.on('error', reject);
  });
}

function assertOpenAiError(r: { status: number; text: string; json(): any }, status: number, param?: string | null, code?: string | null): void {
  assert.equal(r.status, status, r.text);
  const body = r.json();
  assert.deepEqual(Object.keys(body), ['error']);
  assert.deepEqual(Object.keys(body.error).sort(), ['code', 'message', 'param', 'type']);
  assert.equal(typeof body.error.message, 'string');
  assert.ok(body.error.message.length > 0);
  if (param !== undefined) assert.equal(body.error.param, param, r.text);
  if (code !== undefined) assert.equal(body.error.code, code, r.text);
}

describe('moecode serve over HTTP', () => {
  let server: ServeProcess;
  let firstHealth: Awaited<ReturnType<typeof http>>;
  let firstChat: Awaited<ReturnType<typeof http>>;
  before(async () => {
    server = await startServe([SHIPPED_MODEL, '--port', '0']);
    // at once, while the model loads
    [firstHealth, firstChat] = await Promise.all([http(server.url, '/health'), http(server.url, '/v1/chat/completions', { body: { messages: [{ role: 'user', content: 'hi' }] } })]);
    await whenHealthy(server.url);
  });
  after(async () => {
    if (server) assert.equal((await server.stop()).code, 0, server.stderr());
  });

  test('it listens before the model is loaded: 503 while loading, then /health 200; stdout is the one readiness line', async (t) => {
    assertOpenAiError(firstHealth, 503, null, 'model_loading');
    assertOpenAiError(firstChat, 503, null, 'model_loading');
    const ok = await http(server.url, '/health');
    assert.equal(ok.status, 200);
    assert.deepEqual(ok.json(), { status: 'ok' });
    assert.equal(server.stdout(), `listening on ${server.url}\n`);
    assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+$/);
  });

  test('an unknown route is 404 and a wrong method 405, in the OpenAI error shape', async (t) => {
    assertOpenAiError(await http(server.url, '/v1/embeddings', { body: { input: 'x' } }), 404, null, 'not_found');
    assertOpenAiError(await http(server.url, '/nope'), 404);
    const r = await http(server.url, '/v1/chat/completions');
    assertOpenAiError(r, 405, null, 'method_not_allowed');
    assert.equal(r.headers.allow, 'POST');
  });

  test('a body that is not JSON, is empty or is not an object is 400 invalid_json', async (t) => {
    const json = { 'Content-Type': 'application/json' };
    assertOpenAiError(await http(server.url, '/v1/chat/completions', { body: '{"messages": [', headers: json }), 400, null, 'invalid_json');
    assertOpenAiError(await http(server.url, '/v1/completions', { body: '', headers: json }), 400, null, 'invalid_json');
    assertOpenAiError(await http(server.url, '/infill', { body: '[1, 2]', headers: json }), 400, null, 'invalid_json');
  });

  test('a bad field is 400 naming it', async (t) => {
    const user = [{ role: 'user', content: 'hi' }];
    const cases: [string, Record<string, unknown>, string][] = [
      ['/v1/chat/completions', { messages: user, temperature: 'hot' }, 'temperature'],
      ['/v1/chat/completions', { messages: user, max_tokens: 0 }, 'max_tokens'],
      ['/v1/chat/completions', { messages: user, top_p: 0 }, 'top_p'],
      ['/v1/chat/completions', { messages: user, n: 2 }, 'n'],
      ['/v1/chat/completions', { messages: user, seed: 1.5 }, 'seed'],
      ['/v1/chat/completions', { messages: user, stream: 'yes' }, 'stream'],
      ['/v1/chat/completions', { messages: user, stop: Array.from({ length: 65 }, (_, i) => `s${i}`) }, 'stop'],
      ['/v1/chat/completions', { messages: user, stream: true, stream_options: { include_usage: 1 } }, 'stream_options.include_usage'],
      ['/v1/chat/completions', { messages: user, model: 42 }, 'model'],
      ['/v1/chat/completions', {}, 'messages'],
      ['/v1/chat/completions', { messages: [] }, 'messages'],
      ['/v1/chat/completions', { messages: [{ role: 'tool', content: 'x', tool_call_id: '1' }] }, 'messages[0].role'],
      ['/v1/chat/completions', { messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0].type'],
      ['/v1/completions', { prompt: 5 }, 'prompt'],
      ['/v1/completions', { prompt: 'x', suffix: 3 }, 'suffix'],
      ['/v1/completions', { prompt: 'x', echo: true }, 'echo'],
      ['/infill', { input_prefix: 3 }, 'input_prefix'],
      ['/infill', { input_extra: 'util.py' }, 'input_extra'],
      ['/infill', { input_extra: [{ text: 7 }] }, 'input_extra[0].text'],
      ['/infill', { n_predict: 'many' }, 'n_predict'],
    ];
    for (const [path, body, param] of cases) assertOpenAiError(await http(server.url, path, { body }), 400, param);
  });

  test('unknown fields are ignored, not refused', async (t) => {
    const r = await http(server.url, '/v1/chat/completions', { body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, frobnicate: true, user: 'me', presence_penalty: 0 } });
    assert.equal(r.status, 200, r.text);
  });

  test('a body over 10 MiB is 413 (declared, chunked, or far over), and the server answers the next request', async (t) => {
    const big = Buffer.alloc(TEN_MIB + 1, 0x20);
    assertOpenAiError(await http(server.url, '/v1/chat/completions', { body: big, headers: { 'Content-Type': 'application/json' } }), 413, null, 'request_too_large');
    // no Content-Length: the server counts while reading
    const chunked = await new Promise<{ status: number; text: string; json(): any }>((resolve, reject) => {
      const req = request(new URL('/v1/completions', server.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (s: string) => (text += s));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, json: () => JSON.parse(text) }));
      });
      req.on('error', reject);
      const part = Buffer.alloc(1024 * 1024, 0x20);
      for (let i = 0; i < 11; i++) req.write(part);
      req.end();
    });
    assertOpenAiError(chunked, 413, null, 'request_too_large');
    // far over the limit (more than twice it): answered at once, without reading the body, and the connection closed
    const huge = await new Promise<{ status: number; text: string; headers: Record<string, unknown>; json(): any }>((resolve, reject) => {
      const req = request(new URL('/v1/completions', server.url), { method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': String(64 * TEN_MIB) }, agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (s: string) => (text += s));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text, headers: res.headers, json: () => JSON.parse(text) }));
      });
      req.on('error', () => undefined);
      req.write('{"prompt": "');
      setTimeout(() => reject(new Error('no answer to a 640 MiB body that was never sent')), 20_000).unref();
    });
    assertOpenAiError(huge, 413, null, 'request_too_large');
    assert.equal(huge.headers.connection, 'close');
    // just under the limit is read and parsed
    const under = Buffer.concat([Buffer.from('{"prompt": 5, "pad": "'), Buffer.alloc(TEN_MIB - 64, 0x61), Buffer.from('"}')]);
    assertOpenAiError(await http(server.url, '/v1/completions', { body: under, headers: { 'Content-Type': 'application/json' } }), 400, 'prompt');
    assert.equal((await http(server.url, '/health')).status, 200);
  });

  test('form and text/plain bodies (what a web page can post without asking) are 415', async (t) => {
    const body = JSON.stringify({ messages: [{ role: 'user', content: 'hi' }] });
    for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x']) {
      assertOpenAiError(await http(server.url, '/v1/chat/completions', { body, headers: { 'Content-Type': type } }), 415, null, 'unsupported_media_type');
    }
  });

  test('a loopback server refuses requests addressed to another host name (DNS rebinding) with 403', async (t) => {
    assertOpenAiError(await http(server.url, '/v1/models', { headers: { Host: 'attacker.example:8012' } }), 403, null, 'forbidden_host');
    const port = new URL(server.url).port;
    for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`]) assert.equal((await http(server.url, '/v1/models', { headers: { Host: host } })).status, 200, host);
  });

  test('a request from a web page of another site (its Origin) is 403, even with no Content-Type; loopback pages and editors pass', async (t) => {
    const body = Buffer.from(JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], max_tokens: 1 })); // no Content-Type: what a no-cors fetch of a Blob sends
    for (const origin of ['https://attacker.example', 'null', 'not a url']) {
      assertOpenAiError(await http(server.url, '/v1/chat/completions', { body, headers: { Origin: origin } }), 403, null, 'forbidden_origin');
    }
    const port = new URL(server.url).port;
    assert.equal((await http(server.url, '/v1/models', { headers: { Origin: `http://localhost:${port}` } })).status, 200);
    assert.equal((await http(server.url, '/v1/models', { headers: { Origin: 'http://[::1]:3000' } })).status, 200);
  });

  test('a request target that is not a URL is 400, not a server error', async (t) => {
    const r = await rawRequest(server.url, 'GET http://[/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
    assert.match(r, /^HTTP\/1\.1 400 /, r.slice(0, 200));
  });

  test('SSE wire format: text/event-stream, chunk objects only, finish_reason, then data: [DONE]', async (t) => {
    for (const [path, body, object] of [
      ['/v1/chat/completions', { messages: [{ role: 'user', content: 'hi' }], max_tokens: 6, stream: true }, 'chat.completion.chunk'],
      ['/v1/completions', { prompt: LONG_PROMPT, max_tokens: 6, stream: true }, 'text_completion'],
      ['/v1/completions', { prompt: 'def f(x):\n    ', suffix: '\n', max_tokens: 6, stream: true }, 'text_completion'],
    ] as const) {
      const r = await http(server.url, path, { body });
      assert.equal(r.status, 200, r.text);
      assert.match(String(r.headers['content-type']), /^text\/event-stream/);
      assert.ok(r.text.endsWith('data: [DONE]\n\n'), 'ends with [DONE]');
      const events = sseData(r.text);
      assert.equal(events.pop(), '[DONE]');
      const chunks = events.map((e) => JSON.parse(e));
      assert.ok(chunks.length >= 2);
      assert.ok(chunks.every((c) => c.object === object), path);
      const finishes = chunks.flatMap((c) => c.choices.map((ch: { finish_reason: string | null }) => ch.finish_reason)).filter((f) => f !== null);
      assert.equal(finishes.length, 1);
      assert.ok(['stop', 'length'].includes(finishes[0]));
      assert.equal(chunks.at(-1).choices[0].finish_reason, finishes[0], 'the finish reason comes in the last chunk');
    }
  });

  test('/infill with llama.vscode\'s request: llama-server\'s answer fields; a one-line suggestion at a mid-line cursor', async (t) => {
    const r = await http(server.url, '/infill', { body: LLAMA_VSCODE_INFILL });
    assert.equal(r.status, 200, r.text);
    const a = r.json();
    assert.equal(typeof a.content, 'string');
    assert.ok(a.content.trim().length > 0, 'a suggestion');
    assert.ok(!a.content.includes('\n'), `one line: ${JSON.stringify(a.content)}`);
    assert.equal(a.stop, true);
    assert.ok(['eos', 'limit', 'word'].includes(a.stop_type));
    assert.equal(a.model, 'moecode-coder');
    assert.equal(a.generation_settings.n_predict, 128);
    assert.equal(typeof a.tokens_cached, 'number');
    assert.equal(typeof a.truncated, 'boolean');
    for (const k of ['prompt_n', 'prompt_ms', 'prompt_per_second', 'predicted_n', 'predicted_ms', 'predicted_per_second']) assert.equal(typeof a.timings[k], 'number', k);
    assert.ok(a.timings.predicted_n >= 1 && a.tokens_predicted === a.timings.predicted_n);
    // the same fill-in-the-middle without the editor's filters: the suggestion is how it starts
    const raw = await http(server.url, '/v1/completions', {
      body: { prompt: LLAMA_VSCODE_INFILL.input_extra[0]!.text + LLAMA_VSCODE_INFILL.input_prefix + LLAMA_VSCODE_INFILL.prompt, suffix: LLAMA_VSCODE_INFILL.input_suffix, max_tokens: 128, temperature: 0 },
    });
    const rawText: string = raw.json().choices[0].text;
    assert.ok(rawText.startsWith(a.content), `${JSON.stringify(rawText)} starts with ${JSON.stringify(a.content)}`);
  });

  test('/infill: the cache warm-up request (n_predict 0) answers at once with no content; streamed answers end with stop: true', async (t) => {
    const warm = await http(server.url, '/infill', {
      body: { input_prefix: '', input_suffix: '', input_extra: LLAMA_VSCODE_INFILL.input_extra, prompt: '', n_predict: 0, samplers: [], cache_prompt: true, t_max_prompt_ms: 500, t_max_predict_ms: 1 },
    });
    assert.equal(warm.status, 200, warm.text);
    assert.equal(warm.json().content, '');
    assert.equal(warm.json().stop, true);
    const body = { ...LLAMA_VSCODE_INFILL, n_predict: 16, t_max_predict_ms: undefined };
    const whole = (await http(server.url, '/infill', { body })).json();
    const streamed = await http(server.url, '/infill', { body: { ...body, stream: true } });
    assert.match(String(streamed.headers['content-type']), /^text\/event-stream/);
    const events = sseData(streamed.text).map((e) => JSON.parse(e));
    assert.ok(!streamed.text.includes('[DONE]'), 'llama-server style: no [DONE]');
    assert.equal(events.at(-1).stop, true);
    assert.ok(events.slice(0, -1).every((e) => e.stop === false));
    assert.equal(events.map((e) => e.content).join(''), whole.content);
  });

  test('a client that disconnects mid-stream cancels its generation at the next token', async (t) => {
    const before = await serveStatus(server.url);
    const s = await startStream(server.url, '/v1/completions', { ...LONG, stream: true });
    assert.match(s.firstEvent, /^data: \{/);
    s.destroy();
    const after = await eventually(async () => {
      const st = await serveStatus(server.url);
      return st.scheduler.running === 0 && st.scheduler.counters.cancelled > before.scheduler.counters.cancelled ? st : undefined;
    }, 'the generation to be cancelled');
    assert.equal(after.scheduler.counters.cancelled, before.scheduler.counters.cancelled + 1);
    assert.equal(after.scheduler.last?.stop_reason, 'cancelled');
    assert.ok(after.scheduler.last!.generated_tokens < LONG.max_tokens, `stopped after ${after.scheduler.last!.generated_tokens} tokens`);
    // the engine is free: the next request is answered
    const next = await http(server.url, '/v1/completions', { body: { prompt: 'x = ', max_tokens: 2 } });
    assert.equal(next.status, 200, next.text);
  });

  test('a client that disconnects while waiting for a whole answer cancels it too', async (t) => {
    const before = await serveStatus(server.url);
    const req = request(new URL('/v1/completions', server.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, agent: false });
    req.on('error', () => undefined);
    req.end(JSON.stringify(LONG));
    await eventually(async () => ((await serveStatus(server.url)).scheduler.running === 1 ? true : undefined), 'the generation to start');
    req.destroy();
    const after = await eventually(async () => {
      const st = await serveStatus(server.url);
      return st.scheduler.running === 0 && st.scheduler.counters.cancelled > before.scheduler.counters.cancelled ? st : undefined;
    }, 'the generation to be cancelled');
    assert.equal(after.scheduler.last?.stop_reason, 'cancelled');
    assert.ok(after.scheduler.last!.generated_tokens < LONG.max_tokens);
  });

  test('a FIM request is answered between two tokens of a long generation (the scheduler puts completions first)', async (t) => {
    const before = await serveStatus(server.url);
    let longEnded = false;
    const long = request(new URL('/v1/completions', server.url), { method: 'POST', headers: { 'Content-Type': 'application/json' }, agent: false }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => (longEnded = true));
    });
    long.on('error', () => undefined);
    long.end(JSON.stringify({ ...LONG, stream: true }));
    await eventually(async () => ((await serveStatus(server.url)).scheduler.running === 1 ? true : undefined), 'the long generation to start');
    const fim = await http(server.url, '/infill', { body: { ...LLAMA_VSCODE_INFILL, n_predict: 8 } });
    assert.equal(fim.status, 200, fim.text);
    assert.equal(longEnded, false, 'the long generation is still running when the FIM answer arrives');
    const st = await serveStatus(server.url);
    assert.ok(st.scheduler.counters.preemptions > before.scheduler.counters.preemptions, 'the long generation was preempted');
    assert.equal(st.scheduler.running, 1, 'and resumed');
    long.destroy();
  });
});

describe('moecode serve with --api-key and --max-queue 1', () => {
  const KEY = 'sk-local-test';
  const auth = { Authorization: `Bearer ${KEY}` };
  let server: ServeProcess;
  before(async () => {
    if (noGpu) return;
    // on the GPU backend (SwiftShader here): the CPU backend writes the shipped model's 200 tokens in a fraction of a
    // second, before the queue test's second request could be seen waiting behind them
    server = await startServe([SHIPPED_MODEL, '--port', '0', '--api-key', KEY, '--max-queue', '1', '--backend', 'gpu']);
    await whenHealthy(server.url);
  });
  after(async () => {
    if (server) assert.equal((await server.stop()).code, 0, server.stderr());
  });

  test('/health needs no key; every other route, /v1/models included, answers 401 without the right one', async (t) => {
    if (noGpu) return t.skip(noGpu);
    assert.equal((await http(server.url, '/health')).status, 200);
    const none = await http(server.url, '/v1/models');
    assertOpenAiError(none, 401, null, 'invalid_api_key');
    assert.equal(none.headers['www-authenticate'], 'Bearer');
    for (const authorization of [`Bearer ${KEY}x`, `Bearer ${KEY.slice(0, -1)}`, 'Bearer', `Basic ${KEY}`, KEY, 'Bearer  ']) {
      assertOpenAiError(await http(server.url, '/v1/models', { headers: { Authorization: authorization } }), 401, null, 'invalid_api_key');
    }
    assert.equal((await http(server.url, '/v1/models', { headers: auth })).status, 200);
    // the key is checked before the route and the body
    assertOpenAiError(await http(server.url, '/nope'), 401);
    assertOpenAiError(await http(server.url, '/nope', { headers: auth }), 404);
    assertOpenAiError(await http(server.url, '/v1/chat/completions', { body: '{not json', headers: { 'Content-Type': 'application/json' } }), 401);
    assertOpenAiError(await http(server.url, '/infill', { body: LLAMA_VSCODE_INFILL }), 401);
    assertOpenAiError(await http(server.url, '/status'), 401);
  });

  test('a full queue answers 429 at once; the queued request still runs', async (t) => {
    if (noGpu) return t.skip(noGpu);
    const before = await serveStatus(server.url, auth);
    const running = await startStream(server.url, '/v1/completions', { ...LONG, stream: true }, auth);
    const queued = http(server.url, '/v1/chat/completions', { body: { messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, headers: auth });
    await eventually(async () => ((await serveStatus(server.url, auth)).scheduler.queued.chat === 1 ? true : undefined), 'the second request to wait');
    const refused = await http(server.url, '/v1/completions', { body: { prompt: 'x', max_tokens: 2 }, headers: auth });
    assertOpenAiError(refused, 429, null, 'queue_full');
    assert.equal(refused.headers['retry-after'], '1');
    running.destroy();
    const q = await queued;
    assert.equal(q.status, 200, q.text);
    const st = await serveStatus(server.url, auth);
    assert.equal(st.scheduler.counters.refused, before.scheduler.counters.refused + 1);
  });
});

describe('moecode serve refuses bad models, ports and flags with a clear message', () => {
  test('a file that is not a GGUF model: it listens, then exits 1 saying why', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'moecode-serve-'));
    const bad = join(dir, 'bad.gguf');
    writeFileSync(bad, 'this is not a model');
    const server = await startServe([bad, '--port', '0']);
    const exit = await server.exited;
    assert.equal(exit.code, 1, server.stderr());
    assert.match(server.stderr(), /Could not load .*bad\.gguf/);
  });

  test('a missing model file, a bad port, a bad queue limit: usage errors (exit 2) before listening', async () => {
    for (const args of [[join(tmpdir(), 'no-such-model.gguf')], [SHIPPED_MODEL, '--port', '70000'], [SHIPPED_MODEL, '--max-queue', '0']]) {
      const e = await startServe(args).then(
        (s) => {
          void s.stop();
          throw new Error(`${args.join(' ')}: it listened`);
        },
        (err: { code: number; stdout: string; stderr: string }) => err,
      );
      assert.equal(e.code, 2, `${args.join(' ')}: ${e.stderr}`);
      assert.equal(e.stdout, '');
      assert.match(e.stderr, /^moecode: /);
    }
  });

  test('a port already in use: exit 1 naming it', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    try {
      const e = await startServe([SHIPPED_MODEL, '--port', String(port)]).then(
        () => assert.fail('it listened'),
        (err: { code: number; stderr: string }) => err,
      );
      assert.equal(e.code, 1);
      assert.match(e.stderr, new RegExp(`port ${port} on 127\\.0\\.0\\.1 is already in use`));
    } finally {
      blocker.close();
    }
  });
});
