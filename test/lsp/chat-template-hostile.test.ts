/**
 * A model whose chat template is hostile (a GGUF's tokenizer.chat_template is a program from a file)
 * against the real daemon: an endless loop, a huge range() and a list that doubles until memory runs
 * out each answer chat and explain with a clear error naming the template, within a bounded time; the
 * daemon stays responsive meanwhile (status requests answer) and alive afterwards, and an ordinary
 * conversation still works. The template picks its behaviour by the number of messages.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChatResult } from '../../daemon/protocol.js';
import { modelUnavailable, startDaemon, type DaemonClient } from './daemon-harness.js';
import type { RpcResponse } from './json-rpc-client.js';
import { writeModelWithTemplate } from './template-model.js';

const HOSTILE =
  '{% if messages | length == 2 %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}' +
  '{% elif messages | length == 4 %}{% for i in range(1000000000) %}{% endfor %}' +
  '{% elif messages | length == 6 %}{% set ns = namespace(l=[1, 2, 3, 4]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l | length }}' +
  "{% else %}{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const NAME = "the model's chat template (tokenizer.chat_template of hostile.gguf)";

let dir = '';
let model = '';
let noModel: string | undefined;

before(async () => {
  noModel = await modelUnavailable();
  if (noModel) return;
  dir = mkdtempSync(join(tmpdir(), 'moecode-hostile-'));
  model = await writeModelWithTemplate(dir, 'hostile.gguf', HOSTILE);
});
after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function timeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Milliseconds a status request takes to answer. */
async function statusLatency(c: DaemonClient): Promise<number> {
  const t0 = performance.now();
  await timeout(c.status(), 10_000, 'moecode/status/get');
  return performance.now() - t0;
}

/** Sends `request` and keeps asking for status until it answers; returns the answer and the slowest status. */
async function whileAnswering(c: DaemonClient, request: { response: Promise<RpcResponse> }, limitMs: number): Promise<{ response: RpcResponse; slowestStatusMs: number; ms: number }> {
  const t0 = performance.now();
  let done = false;
  let slowestStatusMs = 0;
  const answered = timeout(request.response, limitMs, 'the request').finally(() => (done = true));
  while (!done) {
    slowestStatusMs = Math.max(slowestStatusMs, await statusLatency(c));
    await new Promise((r) => setTimeout(r, 100));
  }
  return { response: await answered, slowestStatusMs, ms: performance.now() - t0 };
}

const history = (n: number) => Array.from({ length: n }, (_, i) => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `turn ${i}` }));

describe('a hostile chat template', () => {
  let c: DaemonClient;
  let baselineMs = 0;
  before(async () => {
    if (noModel) return;
    c = await startDaemon({ env: { MOECODE_MODEL: model } });
    const s = await c.waitForState(['ready', 'error']);
    assert.equal(s.state, 'ready', s.message);
    const times = [];
    for (let i = 0; i < 5; i++) times.push(await statusLatency(c));
    baselineMs = times.sort((a, b) => a - b)[2]!;
  });
  after(async () => {
    if (!c) return;
    assert.equal(c.garbage, '', 'nothing but protocol on stdout');
    await c.shutdownAndExit();
  });

  test('an endless loop: a clear error after 2 s, and status answers meanwhile', async (t) => {
    if (noModel) return t.skip(noModel);
    const r = await whileAnswering(c, c.request('moecode/chat/send', { messages: history(1), maxTokens: 4 }), 60_000);
    console.log(`loop: answered in ${r.ms.toFixed(0)} ms; status ${baselineMs.toFixed(1)} ms before, at most ${r.slowestStatusMs.toFixed(1)} ms meanwhile`);
    assert.equal(r.response.error?.code, -32803, JSON.stringify(r.response));
    assert.deepEqual(r.response.error?.data, { reason: 'chatTemplate' });
    assert.equal(r.response.error?.message, `${NAME} did not finish in 2 s`);
    assert.ok(r.ms < 20_000, `answered after ${r.ms} ms`);
    assert.ok(r.slowestStatusMs < Math.max(1000, 20 * baselineMs), `a status request took ${r.slowestStatusMs} ms`);
  });

  test('a huge range() and a list that doubles: the renderer runs out of memory, not the daemon', async (t) => {
    if (noModel) return t.skip(noModel);
    for (const turns of [3, 5]) {
      const r = await whileAnswering(c, c.request('moecode/chat/send', { messages: history(turns), maxTokens: 4 }), 60_000);
      console.log(`${turns} turns: answered in ${r.ms.toFixed(0)} ms: ${r.response.error?.message}; status at most ${r.slowestStatusMs.toFixed(1)} ms`);
      assert.deepEqual(r.response.error?.data, { reason: 'chatTemplate' }, JSON.stringify(r.response));
      assert.match(r.response.error!.message, new RegExp(`^${NAME.replace(/[().]/g, '\\$&')} (ran out of memory|did not finish in 2 s)`));
      assert.ok(r.slowestStatusMs < Math.max(1000, 20 * baselineMs), `a status request took ${r.slowestStatusMs} ms`);
    }
    assert.equal(c.child.exitCode, null, 'the daemon is still running');
  });

  test('explain goes through the same bounded renderer', async (t) => {
    if (noModel) return t.skip(noModel);
    const uri = 'file:///hostile/a.py';
    c.open(uri, 'def f(x):\n    return x * 2\n', 'python');
    const r = await whileAnswering(c, c.request('moecode/code/explain', { textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: 2, character: 0 } }, maxTokens: 4 }), 60_000);
    assert.deepEqual(r.response.error?.data, { reason: 'chatTemplate' }, JSON.stringify(r.response));
    assert.equal(r.response.error?.message, `${NAME} did not finish in 2 s`);
    c.close(uri);
  });

  test('afterwards an ordinary conversation is answered', async (t) => {
    if (noModel) return t.skip(noModel);
    const r = await c.call<ChatResult>('moecode/chat/send', { messages: history(7), maxTokens: 4, temperature: 0 });
    assert.ok(r.promptTokens > 20);
    assert.ok(r.generatedTokens >= 1);
  });
});
