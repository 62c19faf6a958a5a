/**
 * The memory fit against the real daemon process:
 *  - the KV bomb of the hardening issue (test/helpers/kv-bomb.ts: 10 MB of weights, 512 KiB of KV cache
 *    per token and slot, a 32768-token training context) with moecode.gpu.memoryBudget 0 is planned down
 *    to what the automatic budget holds, and the daemon's peak RSS (VmHWM) stays near that budget — on the
 *    CPU backend and, when there is an adapter, on the WebGPU backend (whose KV buffers are zeroed on first
 *    use, so a step is run);
 *  - a context it cannot hold (moecode.engine.contextLength) is refused before anything is allocated, with
 *    the longest context that would fit, and the daemon stays small;
 *  - moecode.engine.contextLength and kvCacheType reload the model and show in the status.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { StatusParams } from '../../daemon/protocol.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { ensureKvBomb, KV_BOMB_BYTES_PER_TOKEN } from '../helpers/kv-bomb.js';
import { modelUnavailable, startDaemon, TEST_MODEL_SPEC, type DaemonClient } from './daemon-harness.js';

const MiB = 1024 * 1024;
/** What the daemon process itself holds besides a model's memory (Node, V8, tsx, workers, Dawn). */
const PROCESS_OVERHEAD = 800 * MiB;

let bomb = '';
let model = '';

before(async () => {
  bomb = await ensureKvBomb();
  model = await ensureModel(TEST_MODEL_SPEC);
});

/** Peak resident memory of a process (VmHWM), bytes. */
function peakRss(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  assert.ok(m, 'VmHWM in /proc/<pid>/status');
  return Number(m[1]) * 1024;
}

async function loaded(c: DaemonClient, since: number): Promise<StatusParams> {
  return c.waitForState(['ready', 'error'], 300_000, since);
}

for (const backend of ['cpu', 'gpu'] as const) {
  describe(`the KV bomb on the ${backend} backend, moecode.gpu.memoryBudget 0`, () => {
    let c: DaemonClient | undefined;
    let skip: string | undefined;
    before(async () => {
      if (backend === 'gpu') skip = await modelUnavailable();
      if (!skip) c = await startDaemon({ settings: { model: { path: bomb }, engine: { backend }, chat: { maxTokens: 1, temperature: 0 } } });
    });
    after(() => c?.kill());

    test('is planned down to the automatic budget before anything is allocated, and the daemon stays near it', async (t) => {
      if (skip || !c) return t.skip(skip);
      const s = await loaded(c, 0);
      assert.equal(s.state, 'ready', s.message);
      const m = s.memory!;
      // planned as the old daemon did, 4 slots × 4096 tokens would be 8 GiB of KV cache
      assert.ok(m.kvSlots * m.contextLength < 4 * 4096, `${m.kvSlots} slots × ${m.contextLength} tokens`);
      assert.equal(m.kvCacheBytes, m.kvSlots * m.contextLength * KV_BOMB_BYTES_PER_TOKEN);
      assert.equal(m.kvCacheType, 'f16');
      assert.ok(m.totalBytes <= m.budgetBytes, `${m.totalBytes} bytes planned over a ${m.budgetBytes}-byte budget`);
      assert.ok(m.budgetBytes <= 2 * m.weightsBytes + 1024 * MiB, `automatic budget ${m.budgetBytes}`);
      assert.match(m.budgetSource ?? '', /^automatic/);
      // use every layer's KV cache once (the GPU backend zeroes its buffers on first use)
      const r = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
      assert.equal(r.error, undefined, JSON.stringify(r.error));
      const peak = peakRss(c.child.pid!);
      t.diagnostic(`${m.kvSlots} slots × ${m.contextLength} tokens; planned ${Math.round(m.totalBytes / MiB)} MB (KV ${Math.round(m.kvCacheBytes / MiB)} MB) of a ${Math.round(m.budgetBytes / MiB)} MB budget; peak RSS ${Math.round(peak / MiB)} MB`);
      assert.ok(peak <= m.totalBytes + PROCESS_OVERHEAD, `peak RSS ${Math.round(peak / MiB)} MB with ${Math.round(m.totalBytes / MiB)} MB planned`);
    });

    test('a context it cannot hold is refused with the longest that fits, before any allocation', async (t) => {
      if (skip || !c) return t.skip(skip);
      const mark = c.notifications.length;
      const before = peakRss(c.child.pid!);
      c.settings = { ...c.settings, engine: { backend, contextLength: 32768 } };
      const t0 = performance.now();
      c.notify('workspace/didChangeConfiguration', { settings: null });
      const s = await c.waitForState(['error', 'ready'], 120_000, mark);
      assert.equal(s.state, 'ready', 'the model loaded before keeps answering');
      assert.match(s.message ?? '', /Could not load .*lower the context to at most (\d+) tokens per slot.*Still using/);
      const fits = Number(/at most (\d+) tokens/.exec(s.message ?? '')![1]);
      assert.ok(fits > 256 && fits < 32768, `advice ${fits}`);
      assert.ok(performance.now() - t0 < 30_000, 'refused from the header, without loading weights');
      assert.ok(peakRss(c.child.pid!) - before < 64 * MiB, 'nothing was allocated for the refused plan');
    });
  });
}

describe('moecode.engine.contextLength and kvCacheType', () => {
  let c: DaemonClient;
  before(async () => {
    c = await startDaemon({ settings: { model: { path: model }, engine: { backend: 'cpu', contextLength: 192, kvCacheType: 'f32' } } });
  });
  after(() => c.kill());

  test('the context and KV type asked for are what the status reports, and a change reloads the model', async () => {
    const s = await loaded(c, 0);
    assert.equal(s.state, 'ready', s.message);
    assert.equal(s.memory!.contextLength, 192);
    assert.equal(s.memory!.kvCacheType, 'f32');
    assert.equal(s.memory!.kvSlots, 4);
    const f32Bytes = s.memory!.kvCacheBytes;
    const mark = c.notifications.length;
    c.settings = { ...c.settings, engine: { backend: 'cpu', contextLength: 0, kvCacheType: 'f16' } };
    c.notify('workspace/didChangeConfiguration', { settings: null });
    await c.waitForState(['loading'], 60_000, mark);
    const r = await loaded(c, mark);
    assert.equal(r.state, 'ready', r.message);
    assert.equal(r.memory!.kvCacheType, 'f16');
    // automatic: the model's training context (512 tokens) for every slot
    assert.equal(r.memory!.contextLength, 512);
    assert.equal(r.memory!.kvCacheBytes, (f32Bytes / 2) * (512 / 192));
  });

  test('an invalid value is ignored with a warning, the valid ones still apply', async () => {
    const mark = c.notifications.length;
    c.settings = { ...c.settings, engine: { backend: 'cpu', contextLength: -5, kvCacheType: 'f8' as 'f16' } };
    c.notify('workspace/didChangeConfiguration', { settings: null });
    const warned = await c.waitForNotification('window/logMessage', (p: { message: string }) => /moecode\.engine\.(contextLength|kvCacheType)/.test(p.message), 30_000, mark);
    assert.match((warned.params as { message: string }).message, /is invalid; using/);
    const s = await c.status();
    assert.equal(s.memory!.kvCacheType, 'f16');
  });
});
