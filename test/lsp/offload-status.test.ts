/**
 * The daemon under a `moecode.gpu.memoryBudget` smaller than the model, on the GPU backend: the model loads
 * with part of its experts in host memory, the status carries the expert placement (share on the GPU, hit
 * rate, prefetch accuracy, bytes uploaded per token), and after a chat the cache figures count its tokens.
 * `moecode serve --gpu-budget`: answers under a budget that holds only part of the experts, and exits
 * naming the need when the budget is too small. Skips when no WebGPU adapter is available.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { planGpuPlacement } from '../../daemon/gpu/gpu-placement.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { modelWeights } from '../../daemon/model/model-weights.js';
import type { StatusParams } from '../../daemon/protocol.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { webgpuUnavailable, GREEDY_SETTINGS, startDaemon, type DaemonClient } from './daemon-harness.js';
import { http, startServe, whenHealthy } from './serve-harness.js';

/** Wide experts (n_ff_exp 512, F32: 768 KiB each), so a budget in whole MB splits them. */
const SPEC = { arch: 'llama', preset: 'tiny', weightType: 'F32', n_ff_exp: 512 } as const;

let c: DaemonClient | undefined;
let noGpu: string | undefined;
let budgetMB = 0;
let modelPath = '';

before(async () => {
  noGpu = await webgpuUnavailable();
  const path = (modelPath = await ensureModel(SPEC));
  // the placement the daemon will make: 4 KV slots of the training context (load-plan.ts), batches of 256
  const file = await openGguf(path);
  const cfg = readModelConfig(file);
  const p = planGpuPlacement(file, cfg, modelWeights(file, cfg), { maxTokens: 256, nCtx: cfg.n_ctx_train, nSlots: 4, maxLogitRows: 1, maxBindingBytes: 1 << 30, budgetBytes: null, hostCacheBytes: null });
  await file.close();
  budgetMB = Math.ceil((p.minimumBytes + 5 * p.slotBytes[0]!) / 2 ** 20);
  if (noGpu) return;
  c = await startDaemon({ settings: { ...GREEDY_SETTINGS, model: { path }, engine: { backend: 'gpu' }, gpu: { memoryBudget: budgetMB } } });
});

after(() => c?.kill());

test('the status shows the experts on the GPU and the expert cache, updated after a chat', async (t) => {
  if (noGpu || !c) return t.skip(noGpu ?? 'no daemon');
  const ready = await c.waitForState(['ready', 'error']);
  assert.equal(ready.state, 'ready', ready.message);
  const e = ready.experts;
  assert.ok(e, 'the status carries the experts');
  assert.equal(e.total, 16);
  assert.ok(e.onGpu > 0 && e.onGpu < 16, `${e.onGpu} of 16 experts on the GPU under ${budgetMB} MB`);
  assert.equal(e.hitRate, 1, 'no routed token yet');
  assert.ok(ready.memory!.totalBytes <= budgetMB * 2 ** 20, 'GPU bytes within the budget');
  const mark = c.notifications.length;
  await c.call('moecode/chat/send', { messages: [{ role: 'user', content: 'What does a hash map do?' }], maxTokens: 8 });
  const after = await c.waitForNotification('moecode/status/didChange', (p: StatusParams) => Boolean(p.experts && p.experts.hitRate < 1), 30_000, mark);
  const x = (after.params as StatusParams).experts!;
  assert.ok(x.hitRate >= 0 && x.hitRate < 1, `hit rate ${x.hitRate}`);
  assert.ok(x.prefetchAccuracy === undefined || (x.prefetchAccuracy >= 0 && x.prefetchAccuracy <= 1));
  assert.ok(x.uploadedBytesPerToken >= 0);
  assert.deepEqual((await c.status()).experts, x);
});

test('moecode serve --gpu-budget: answers with part of the experts on the GPU; a budget too small exits naming the need', async (t) => {
  if (noGpu) return t.skip(noGpu);
  const s = await startServe([modelPath, '--port', '0', '--backend', 'gpu', '--gpu-budget', `${budgetMB}MiB`]);
  try {
    await whenHealthy(s.url);
    const r = await http(s.url, '/v1/completions', { body: { prompt: 'def f(x):', max_tokens: 4, temperature: 0 } });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json().usage.completion_tokens, 4);
  } finally {
    await s.stop();
  }
  const small = await startServe([modelPath, '--port', '0', '--backend', 'gpu', '--gpu-budget', '1MiB']);
  const { code } = await small.exited; // it listens, then the load fails and it exits
  assert.equal(code, 1);
  assert.match(small.stderr(), /needs about \d+ MB .* but (--gpu-budget|moecode\.gpu\.memoryBudget) is 1 MB/);
});
