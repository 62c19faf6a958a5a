/** The scheduler's policies on an engine whose outputs depend on exactly what each KV slot holds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { GenerationRequest } from '../../daemon/scheduler/generation-job.js';
import { EngineGoneError, QueueFullError, Scheduler } from '../../daemon/scheduler/scheduler.js';
import { allowedMask, maskAllows } from '../../daemon/engine/token-mask.js';
import { CONTROL_ID, EOG_ID, FakeEngine, VOCAB_SIZE } from './scheduler-fake-engine.js';

const greedy = { temperature: 0, topK: 0, topP: 1, seed: 0 };
const prompt = (n: number, base = 1) => Array.from({ length: n }, (_, i) => (base + i * 7) % 26);

function req(over: Partial<GenerationRequest> & Pick<GenerationRequest, 'kind' | 'owner'>): GenerationRequest {
  return { prompt: prompt(10), maxTokens: 8, sampling: greedy, ...over };
}

async function withEngine(nSlots: number, fn: (s: Scheduler, e: FakeEngine) => Promise<void>, opts: ConstructorParameters<typeof Scheduler>[0] = {}): Promise<void> {
  const e = new FakeEngine(nSlots);
  const s = new Scheduler(opts);
  await s.setEngine(e.asEngine());
  await fn(s, e);
  await s.whenIdle();
}

test('a generation yields the greedy continuation of its prompt', () =>
  withEngine(2, async (s) => {
    const p = prompt(40);
    const o = await s.submit(req({ kind: 'completion', owner: 'a', prompt: p, maxTokens: 12 }));
    assert.deepEqual(o.tokens, FakeEngine.continuation(p, 12));
    assert.equal(o.stopReason, 'length');
    assert.equal(o.prefillTokens, 40);
  }));

test('a completion preempts a chat between tokens, and the chat resumes where it was', () =>
  withEngine(3, async (s) => {
    const chatPrompt = prompt(20, 3);
    let chatTokens = 0;
    let completionDoneAt = -1;
    const chat = s.submit(
      req({
        kind: 'chat',
        owner: 'chat',
        prompt: chatPrompt,
        maxTokens: 30,
        onText: () => {
          chatTokens++;
          if (chatTokens === 5) {
            void s.submit(req({ kind: 'completion', owner: 'doc', maxTokens: 6 })).then((o) => {
              completionDoneAt = chatTokens;
              assert.deepEqual(o.tokens, FakeEngine.continuation(prompt(10), 6));
            });
          }
        },
      }),
    );
    const o = await chat;
    assert.ok(completionDoneAt >= 5 && completionDoneAt < 30, `the completion finished after chat token ${completionDoneAt}`);
    assert.equal(o.preemptions, 1);
    assert.equal(s.counters.preemptions, 1);
    assert.deepEqual(o.tokens, FakeEngine.continuation(chatPrompt, 30));
  }));

/**
 * A chat whose slot a completion (12-token prompt, `completionTokens` long) takes after the chat's
 * `afterPieces`-th piece of text; resolves with the chat's outcome once both are done.
 */
async function chatPreempted(s: Scheduler, chat: Partial<GenerationRequest>, afterPieces: number, completionTokens: number) {
  let n = 0;
  let completion: Promise<unknown> | undefined;
  const o = await s.submit(
    req({
      ...chat,
      kind: 'chat',
      owner: 'chat',
      onText: () => {
        if (++n === afterPieces) completion = s.submit(req({ kind: 'completion', owner: 'doc', prompt: prompt(12, 9), maxTokens: completionTokens }));
      },
    }),
  );
  await completion;
  return o;
}

test('with a single KV slot a preempted chat re-evaluates its tokens and still continues correctly', () =>
  withEngine(1, async (s, e) => {
    const chatPrompt = prompt(30, 5);
    const o = await chatPreempted(s, { prompt: chatPrompt, maxTokens: 20 }, 4, 5);
    assert.deepEqual(o.tokens, FakeEngine.continuation(chatPrompt, 20));
    // the chat's slot was taken, so it prefilled prompt + generated tokens again
    assert.ok(o.prefillTokens > chatPrompt.length, `prefilled ${o.prefillTokens}`);
    assert.ok(e.steps.some((st) => st.pos === 0 && st.n === 12), 'the completion ran in the same slot');
  }));

test('completions of different documents start in turn, least recently served first', () =>
  withEngine(4, async (s) => {
    const order: string[] = [];
    const track = (name: string, p: Promise<unknown>) => p.then(() => order.push(name));
    // occupy the engine so the rest queue up
    const first = track('A1', s.submit(req({ kind: 'completion', owner: 'A', maxTokens: 3 }), 'A'));
    const a2 = track('A2', s.submit(req({ kind: 'completion', owner: 'A', maxTokens: 3 }), 'A'));
    const b1 = track('B1', s.submit(req({ kind: 'completion', owner: 'B', maxTokens: 3 }), 'B'));
    const c1 = track('C1', s.submit(req({ kind: 'completion', owner: 'C', maxTokens: 3 }), 'C'));
    await Promise.all([first, a2, b1, c1]);
    assert.deepEqual(order, ['A1', 'B1', 'C1', 'A2']);
  }));

test('full queues refuse with QueueFullError instead of growing', () =>
  withEngine(
    2,
    async (s) => {
      const running = s.submit(req({ kind: 'chat', owner: 'chat', maxTokens: 20 }));
      // the first one started at once; three more wait, which is the limit
      const waiting = [1, 2, 3].map(() => s.submit(req({ kind: 'chat', owner: 'chat' })));
      await assert.rejects(s.submit(req({ kind: 'chat', owner: 'chat' })), QueueFullError);
      assert.equal(s.counters.refused, 1);
      assert.equal(s.state().queued.chat, 3);
      await Promise.all([running, ...waiting]);
    },
    { limits: { chat: 3 } },
  ));

test('a cancelled queued job leaves the queue and settles at once', () =>
  withEngine(2, async (s) => {
    const busy = s.submit(req({ kind: 'chat', owner: 'chat', maxTokens: 30 }));
    const ac = new AbortController();
    const queued = s.submit(req({ kind: 'chat', owner: 'chat', signal: ac.signal }));
    assert.equal(s.state().queued.chat, 1);
    assert.equal(s.state().running, 1);
    ac.abort();
    const o = await queued;
    assert.equal(o.stopReason, 'cancelled');
    assert.equal(o.tokens.length, 0);
    assert.equal(s.state().queued.chat, 0);
    await busy;
  }));

test('a cancelled running job settles before the step in flight ends, and frees its slot after it', () =>
  withEngine(2, async (s, e) => {
    const ac = new AbortController();
    let tokens = 0;
    let stepsAtCancel = -1;
    const o = await s.submit(
      req({
        kind: 'completion',
        owner: 'doc',
        maxTokens: 50,
        signal: ac.signal,
        onText: () => {
          if (++tokens === 3) {
            // the next step is already queued behind this callback: cancel from outside the step
            setImmediate(() => {
              stepsAtCancel = e.steps.length;
              ac.abort();
            });
          }
        },
      }),
    );
    assert.equal(o.stopReason, 'cancelled');
    assert.ok(e.steps.length <= stepsAtCancel, 'no step started after the cancellation');
    assert.ok(o.tokens.length >= 3 && o.tokens.length <= 4);
    await s.whenIdle();
    assert.ok(s.state().slots.every((x) => !x.busy), 'no slot is left pinned');
    assert.equal(s.state().running, 0);
  }));

test('stop strings, shouldStop and the time budget end a generation', () =>
  withEngine(2, async (s) => {
    const p = prompt(10);
    const expected = FakeEngine.continuation(p, 20).map((t) => String.fromCharCode(97 + t)).join('');
    const stopAt = expected.slice(6, 8);
    const o = await s.submit(req({ kind: 'chat', owner: 'chat', prompt: p, maxTokens: 20, stop: [stopAt] }));
    assert.equal(o.stopReason, 'stop');
    assert.equal(o.text, expected.slice(0, expected.indexOf(stopAt)));
    const o2 = await s.submit(req({ kind: 'completion', owner: 'd', prompt: p, maxTokens: 20, shouldStop: (t) => t.length >= 4 }));
    assert.equal(o2.text, expected.slice(0, 4));
    const o3 = await s.submit(req({ kind: 'completion', owner: 'd', prompt: p, maxTokens: 20, timeBudgetMs: 0 }));
    assert.equal(o3.stopReason, 'time');
    assert.equal(o3.tokens.length, 1, 'no time for a single decode step');
  }));

test('a repeated prompt reuses the slot cache; closing the owner frees the slot', () =>
  withEngine(2, async (s) => {
    const p = prompt(30);
    await s.submit(req({ kind: 'completion', owner: 'doc', prompt: p, maxTokens: 2 }));
    const again = await s.submit(req({ kind: 'completion', owner: 'doc', prompt: [...p, 4], maxTokens: 2 }));
    assert.equal(again.reusedTokens, 30);
    assert.equal(again.prefillTokens, 1);
    assert.deepEqual(s.state().slots.map((x) => x.owner).filter(Boolean), ['doc']);
    s.forgetOwner('doc');
    await s.whenIdle();
    assert.ok(s.state().slots.every((x) => x.owner === null && x.cachedTokens === 0));
  }));

test('unloading the engine fails every queued and running job with EngineGoneError', async () => {
  const e = new FakeEngine(2);
  const s = new Scheduler();
  await s.setEngine(e.asEngine());
  const a = assert.rejects(s.submit(req({ kind: 'chat', owner: 'chat', maxTokens: 40 })), EngineGoneError);
  const b = assert.rejects(s.submit(req({ kind: 'completion', owner: 'doc' })), EngineGoneError);
  await s.setEngine(undefined);
  await a;
  await b;
  await assert.rejects(s.submit(req({ kind: 'completion', owner: 'doc' })), EngineGoneError);
});

test('a request prepared for the engine before a model switch is refused with EngineGoneError, one for the new engine runs', async () => {
  const old = new FakeEngine(2).asEngine();
  const next = new FakeEngine(2).asEngine();
  const s = new Scheduler();
  await s.setEngine(old);
  await s.setEngine(next);
  await assert.rejects(s.submit(req({ kind: 'chat', owner: 'chat', preparedFor: old })), (e: unknown) => e instanceof EngineGoneError && /model changed/.test(e.message));
  const o = await s.submit(req({ kind: 'chat', owner: 'chat', preparedFor: next }));
  assert.ok(o.tokens.length > 0);
  await s.setEngine(undefined);
});

test('a prompt longer than the context is refused', () =>
  withEngine(1, async (s) => {
    await assert.rejects(s.submit(req({ kind: 'chat', owner: 'chat', prompt: prompt(600) })), RangeError);
  }));

test('by default every sampled token is masked against control tokens that do not end generation', () =>
  withEngine(1, async (s, e) => {
    await s.submit(req({ kind: 'completion', owner: 'doc', maxTokens: 4 }));
    const sampled = e.steps.filter((st) => st.mask !== undefined);
    assert.equal(sampled.length, 4, 'the prefill and three decodes sampled with a mask');
    for (const st of sampled) {
      assert.ok(!maskAllows(st.mask!, CONTROL_ID), 'the control token is banned');
      assert.ok(maskAllows(st.mask!, EOG_ID), 'the end-of-generation token stays allowed');
    }
  }));

test('the first-token mask applies to the first token only, the every-token mask to all of them', () =>
  withEngine(2, async (s) => {
    const p = prompt(15, 4);
    const plain = FakeEngine.continuation(p, 10);
    const onlyQ = allowedMask(VOCAB_SIZE, (i) => i === 16); // 'q'
    const vowels = allowedMask(VOCAB_SIZE, (i) => [0, 4, 8, 14, 16, 20].includes(i));
    const a = await s.submit(req({ kind: 'completion', owner: 'a', prompt: p, maxTokens: 10, masks: { first: onlyQ } }));
    assert.equal(a.tokens[0], 16);
    assert.notEqual(plain[0], 16, 'the mask changed the first token');
    assert.deepEqual(a.tokens.slice(1), FakeEngine.continuation([...p, 16], 9), 'later tokens unconstrained');
    const b = await s.submit(req({ kind: 'completion', owner: 'b', prompt: p, maxTokens: 10, masks: { every: vowels } }));
    assert.ok(b.tokens.every((t) => maskAllows(vowels, t)), `every token in the mask: ${b.tokens}`);
    assert.notDeepEqual(b.tokens, plain);
    // a first mask that leaves nothing with the every mask is dropped, never an empty mask
    const c = await s.submit(req({ kind: 'completion', owner: 'c', prompt: p, maxTokens: 3, masks: { first: allowedMask(VOCAB_SIZE, (i) => i === CONTROL_ID) } }));
    assert.deepEqual(c.tokens, FakeEngine.continuation(p, 3));
  }));

test('a chat that loses its slot resumes with the every-token mask, not the first-token one', () =>
  withEngine(1, async (s) => {
    const chatPrompt = prompt(20, 2);
    const masks = { first: allowedMask(VOCAB_SIZE, (i) => i === 24), every: allowedMask(VOCAB_SIZE, (i) => i % 2 === 1 || i === 24) };
    const o = await chatPreempted(s, { prompt: chatPrompt, maxTokens: 12, masks }, 3, 3);
    assert.ok(o.prefillTokens > chatPrompt.length, 'the chat re-evaluated its tokens');
    const expected = FakeEngine.continuation(chatPrompt, 12, (g) => (g === 0 ? masks.first : masks.every));
    assert.deepEqual(o.tokens, expected);
    assert.ok(expected.slice(1).every((t) => t !== 24), 'later tokens are not held to the first mask');
  }));
