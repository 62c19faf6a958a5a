/**
 * A suggestion ends where the model's bytes stop being UTF-8 text: no U+FFFD is ever inserted into
 * code. The completion path as the completion feature runs it: the real Scheduler on a fake engine whose
 * greedy output includes a token with an invalid byte (or an unfinished character), the stop rules
 * checked after every token, then the post filters.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postProcess, stopPosition } from '../../daemon/completion/pipeline.js';
import { Scheduler } from '../../daemon/scheduler/scheduler.js';
import { FakeEngine } from './scheduler-fake-engine.js';
import { at } from './completion-helpers.js';

const greedy = { temperature: 0, topK: 0, topP: 1, seed: 0 };
const letter = (id: number) => String.fromCharCode(97 + id);

/** A completion through the scheduler as the completion feature runs it, with token `badId` decoding to `bad`. */
async function complete(prompt: number[], maxTokens: number, badId: number, bad: Uint8Array<ArrayBuffer>) {
  const e = new FakeEngine(1, 512, 1);
  const plain = e.tokenizer.tokenToBytes;
  e.tokenizer.tokenToBytes = (id: number) => (id === badId ? bad : plain(id));
  const s = new Scheduler();
  await s.setEngine(e.asEngine());
  const cctx = at('const s = |\n');
  const o = await s.submit({ kind: 'completion', owner: 'file:///a.ts', prompt, maxTokens, sampling: greedy, shouldStop: (t) => stopPosition(t, cctx) !== undefined });
  await s.whenIdle();
  return { outcome: o, suggestion: postProcess(o.text, cctx) };
}

test('an invalid byte from the model ends the suggestion there and stops generating', async () => {
  const prompt = [3, 1, 4, 1, 5, 9, 2, 6];
  const seq = FakeEngine.continuation(prompt, 20);
  // the first token whose id has not occurred before position 3 becomes a lone 0xFF byte
  const k = seq.findIndex((id, i) => i >= 3 && !seq.slice(0, i).includes(id));
  assert.ok(k > 0, `no fresh token in ${seq}`);
  const { outcome, suggestion } = await complete(prompt, 20, seq[k]!, Uint8Array.of(0xff));
  const want = seq.slice(0, k).map(letter).join('');
  assert.equal(suggestion, want);
  assert.ok(!suggestion.includes('\uFFFD'));
  assert.equal(outcome.stopReason, 'stop');
  assert.equal(outcome.tokens.length, k + 1, 'generation stopped at the invalid token');
});

test('a character left unfinished when the suggestion reaches its length is dropped', async () => {
  const prompt = [2, 7, 1, 8, 2, 8];
  const seq = FakeEngine.continuation(prompt, 6);
  const last = seq[5]!;
  assert.ok(!seq.slice(0, 5).includes(last), `the crafted token must come last only: ${seq}`);
  // 0xE2 starts a three-byte character ("→" is E2 86 92) that never finishes
  const { outcome, suggestion } = await complete(prompt, 6, last, Uint8Array.of(0xe2));
  assert.equal(outcome.stopReason, 'length');
  assert.equal(suggestion, seq.slice(0, 5).map(letter).join(''));
});
