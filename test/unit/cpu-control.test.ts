/**
 * The CPU backend's step handshake (daemon/cpu/control.ts) under late wake-ups, and what it protects: a
 * model on two ranks decodes the same tokens every time.
 *
 * Atomics.wait and Atomics.waitAsync return on any notify of their word, including one meant for an
 * earlier change that arrived late (the notifier was preempted between changing the word and notifying).
 * Before the fix, the main thread took such a wake as "the step is done" and posted the next step while a
 * rank was still running the last one: the ranks' collectives then paired the wrong exchange buffers and
 * about one generation in three on this 2-core machine came out wrong (CI: a greedy token 18 nats off
 * llama.cpp's).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Ctl, RankFailure, createControl, postStepAndWait, waitForChange } from '../../daemon/cpu/control.js';
import { Engine } from '../../daemon/engine/engine.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('a late notify of DONE_GEN does not end the wait for a step; the ranks finishing does', async () => {
  const c = createControl(4);
  let settled = false;
  const done = postStepAndWait(c, new RankFailure()).then((aborted) => {
    settled = true;
    return aborted;
  });
  assert.equal(c[Ctl.STEP_SEQ], 1, 'the step was posted');
  // the previous step's last rank notifying late: the word has not moved
  Atomics.notify(c, Ctl.DONE_GEN);
  await tick(50);
  assert.equal(settled, false, 'a wake without DONE_GEN moving must not end the step');
  Atomics.add(c, Ctl.DONE_GEN, 1);
  Atomics.notify(c, Ctl.DONE_GEN);
  assert.equal(await done, false);
});

test('a rank waiting for the next step sleeps through a late notify and wakes with the new step number', () => {
  const c = new Int32Array(new SharedArrayBuffer(64));
  c[Ctl.STEP_SEQ] = 7;
  // another thread: a late notify (the word still 7), then the real post of step 8
  const poster = new Worker(
    `const { workerData: c } = require('node:worker_threads');
     const sleep = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
     sleep(100);
     Atomics.notify(c, ${Ctl.STEP_SEQ});
     sleep(150);
     Atomics.store(c, ${Ctl.STEP_SEQ}, 8);
     Atomics.notify(c, ${Ctl.STEP_SEQ});`,
    { eval: true, workerData: c },
  );
  try {
    const t0 = performance.now();
    assert.equal(waitForChange(c, Ctl.STEP_SEQ, 7), 8);
    assert.ok(performance.now() - t0 >= 200, 'it returned only once the word changed');
  } finally {
    void poster.terminate();
  }
});

test('a model on two CPU ranks decodes the same greedy tokens every time', async () => {
  const path = await ensureModel({ arch: 'olmoe', preset: 'tiny', weightType: 'Q8_0' });
  const e = await Engine.load(path, { backend: 'cpu', threads: 2, nCtx: 128, kvType: 'f32' });
  try {
    const greedy = { temperature: 0, topK: 1, topP: 1, seed: 0 };
    const prompt = e.tokenizer.encode('for (let i = 0; i < n; i++) {');
    const runs: string[] = [];
    for (let i = 0; i < 60; i++) {
      const s = e.session(0);
      s.reset();
      let { token } = await s.prefill(prompt, greedy);
      const out = [token];
      while (out.length < 24) out.push((token = await s.decode(token, greedy)));
      runs.push(out.join(','));
    }
    const differing = runs.filter((r) => r !== runs[0]).length;
    assert.equal(differing, 0, `${differing} of ${runs.length} generations differ from the first`);
  } finally {
    await e.dispose();
  }
});
