/**
 * A chat's wait is bounded under a storm of completions (real Scheduler, fake engine): completions
 * still go first, but a chat that has waited `chatMaxWaitMs` gets the engine for a slice, so it starts
 * and finishes while the storm goes on, with completions running between its slices.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GenerationRequest } from '../../daemon/scheduler/generation-job.js';
import { Scheduler } from '../../daemon/scheduler/scheduler.js';
import { FakeEngine } from './scheduler-fake-engine.js';

const greedy = { temperature: 0, topK: 0, topP: 1, seed: 0 };
const prompt = (n: number, base = 1) => Array.from({ length: n }, (_, i) => (base + i * 7) % 26);

/** Keeps `docs` documents asking for completions back to back until `until` (ms, performance.now()). */
function storm(s: Scheduler, docs: number, until: number): { done: Promise<void>; finished: () => number } {
  let finished = 0;
  const one = async (doc: number): Promise<void> => {
    while (performance.now() < until) {
      const req: GenerationRequest = { kind: 'completion', owner: `file:///storm/${doc}.ts`, prompt: prompt(12, doc + finished), maxTokens: 6, sampling: greedy };
      await s.submit(req);
      finished++;
    }
  };
  return { done: Promise.all(Array.from({ length: docs }, (_, i) => one(i))).then(() => undefined), finished: () => finished };
}

test('under a completion storm a chat starts within its bounded wait and finishes while the storm goes on', async () => {
  const e = new FakeEngine(4, 512, 2);
  const s = new Scheduler({ chatMaxWaitMs: 150, chatSliceMs: 30 });
  await s.setEngine(e.asEngine());
  const t0 = performance.now();
  const stormEnd = t0 + 2500;
  const st = storm(s, 3, stormEnd);
  await new Promise((r) => setTimeout(r, 50)); // the storm is under way
  const submitted = performance.now();
  let firstText: number | undefined;
  let completionsAtFirst = 0;
  const chatPrompt = prompt(40, 5);
  const o = await s.submit({
    kind: 'chat',
    owner: 'chat',
    prompt: chatPrompt,
    maxTokens: 30,
    sampling: greedy,
    onText: () => {
      if (firstText === undefined) {
        firstText = performance.now();
        completionsAtFirst = st.finished();
      }
    },
  });
  const chatDone = performance.now();
  await st.done;
  await s.whenIdle();
  const wait = firstText! - submitted;
  console.log(`first chat text after ${wait.toFixed(0)} ms; chat done after ${(chatDone - submitted).toFixed(0)} ms; ${st.finished()} completions in the storm; ${o.preemptions} preemptions`);
  assert.ok(firstText !== undefined, 'the chat wrote text');
  assert.ok(wait < 1500, `the chat waited ${wait} ms for its first text`);
  assert.ok(chatDone < stormEnd, 'the chat finished while the storm went on');
  assert.deepEqual(o.tokens, FakeEngine.continuation(chatPrompt, 30), 'the chat is the same as uninterrupted');
  assert.ok(completionsAtFirst > 0, 'completions ran first');
  assert.ok(o.preemptions > 0, 'completions still preempted the chat between its slices');
  assert.ok(st.finished() > completionsAtFirst, 'completions went on meanwhile');
});

test('without completions waiting a chat runs straight through (no slices)', async () => {
  const e = new FakeEngine(2, 512, 1);
  const s = new Scheduler({ chatMaxWaitMs: 5, chatSliceMs: 1 });
  await s.setEngine(e.asEngine());
  const o = await s.submit({ kind: 'chat', owner: 'chat', prompt: prompt(10), maxTokens: 20, sampling: greedy });
  assert.equal(o.preemptions, 0);
  assert.deepEqual(o.tokens, FakeEngine.continuation(prompt(10), 20));
});
