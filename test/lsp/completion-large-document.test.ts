/**
 * An inline completion at the end of a 50 MB document, against the real daemon: it answers about as
 * promptly as the same completion in a small document, and status requests sent meanwhile answer
 * quickly (the FIM prompt tokenizes only the end of the prefix; nothing on the request path walks the
 * whole document for long). Bounds are relative to this run's own small-document measurements.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { GREEDY_SETTINGS, modelUnavailable, startDaemon, TEST_MODEL_SPEC, type DaemonClient } from './daemon-harness.js';
import type { RpcResponse } from './json-rpc-client.js';

const LINE = '  const total = items.reduce((sum, item) => sum + item.price * item.count, 0);\n';
const TAIL = 'export function area(r: number) {\n  return ';

let model = '';
let noModel: string | undefined;
before(async () => {
  noModel = await modelUnavailable();
  if (!noModel) model = await ensureModel(TEST_MODEL_SPEC);
});

async function statusMs(c: DaemonClient): Promise<number> {
  const t0 = performance.now();
  await c.status();
  return performance.now() - t0;
}

/** A completion at the end of `uri` (line `line`), with status requests sent every 50 ms until it answers. */
async function completeWatching(c: DaemonClient, uri: string, line: number, character: number): Promise<{ response: RpcResponse; ms: number; slowestStatusMs: number; statuses: number }> {
  const t0 = performance.now();
  const req = c.inline(uri, line, character);
  let done = false;
  void req.response.finally(() => (done = true));
  let slowestStatusMs = 0;
  let statuses = 0;
  while (!done) {
    slowestStatusMs = Math.max(slowestStatusMs, await statusMs(c));
    statuses++;
    await new Promise((r) => setTimeout(r, 50));
  }
  const response = await req.response;
  return { response, ms: performance.now() - t0, slowestStatusMs, statuses };
}

describe('a 50 MB document', () => {
  let c: DaemonClient;
  before(async () => {
    if (noModel) return;
    c = await startDaemon({ env: { MOECODE_MODEL: model }, settings: GREEDY_SETTINGS });
    const s = await c.waitForState(['ready', 'error']);
    assert.equal(s.state, 'ready', s.message);
  });
  after(async () => {
    if (c) await c.shutdownAndExit();
  });

  test('a completion at its end answers promptly, and status answers quickly meanwhile', async (t) => {
    if (noModel) return t.skip(noModel);
    const lines = Math.ceil(50e6 / LINE.length);
    const big = LINE.repeat(lines) + TAIL;
    const small = LINE.repeat(200) + TAIL;
    const cursor = { character: '  return '.length };
    c.open('file:///large/small.ts', small);
    c.open('file:///large/big.ts', big);
    // both documents are in: the daemon answers after handling the didOpens
    const baseline: number[] = [];
    for (let i = 0; i < 5; i++) baseline.push(await statusMs(c));
    const baselineStatusMs = baseline.sort((a, b) => a - b)[2]!;

    const s = await completeWatching(c, 'file:///large/small.ts', 201, cursor.character);
    assert.equal(s.response.error, undefined, JSON.stringify(s.response.error));
    const b = await completeWatching(c, 'file:///large/big.ts', lines + 1, cursor.character);
    assert.equal(b.response.error, undefined, JSON.stringify(b.response.error));
    console.log(
      `status alone ${baselineStatusMs.toFixed(1)} ms; small document: completion ${s.ms.toFixed(0)} ms, slowest status ${s.slowestStatusMs.toFixed(1)} ms; ` +
        `50 MB document: completion ${b.ms.toFixed(0)} ms, slowest status ${b.slowestStatusMs.toFixed(1)} ms (${b.statuses} status requests)`,
    );
    assert.ok(b.ms < 5 * s.ms + 2000, `the 50 MB completion took ${b.ms} ms, the small one ${s.ms} ms`);
    assert.ok(b.slowestStatusMs < Math.max(1000, 10 * s.slowestStatusMs, 20 * baselineStatusMs), `a status request took ${b.slowestStatusMs} ms`);
    // typing one more character: the anchored window, still prompt
    c.insert('file:///large/big.ts', 2, lines + 1, cursor.character, 'M');
    const again = await completeWatching(c, 'file:///large/big.ts', lines + 1, cursor.character + 1);
    assert.equal(again.response.error, undefined);
    assert.ok(again.slowestStatusMs < Math.max(1000, 10 * s.slowestStatusMs, 20 * baselineStatusMs), `a status request took ${again.slowestStatusMs} ms`);
    c.close('file:///large/big.ts');
    c.close('file:///large/small.ts');
  });
});
