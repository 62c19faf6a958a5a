import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveDebounce, sleepUnlessCancelled } from '../../extension/inline-debounce';

function clock() {
  let t = 0;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

test('slow typing waits the configured time; fast typing waits longer, up to twice it', () => {
  const c = clock();
  const d = new AdaptiveDebounce(c);
  assert.equal(d.delayFor('a', 150), 150);
  c.advance(1000);
  assert.equal(d.delayFor('a', 150), 150, 'a 1 s gap is slower than the debounce');
  const waits: number[] = [];
  for (let i = 0; i < 10; i++) {
    c.advance(40);
    waits.push(d.delayFor('a', 150));
  }
  assert.ok(waits.at(-1)! > 150 && waits.at(-1)! <= 300, `fast typing stretched the wait: ${waits.join(',')}`);
  assert.ok(waits.at(-1)! > waits[0]!, 'the wait grows as the typing speed is learnt');
});

test('another document or a long pause resets the learnt speed; 0 disables the debounce', () => {
  const c = clock();
  const d = new AdaptiveDebounce(c);
  for (let i = 0; i < 10; i++) {
    c.advance(30);
    d.delayFor('a', 100);
  }
  c.advance(30);
  assert.equal(d.delayFor('b', 100), 100);
  assert.equal(d.delayFor('b', 0), 0);
});

test('sleepUnlessCancelled resolves false as soon as cancellation is asked', async () => {
  let cancel: (() => void) | undefined;
  const started = Date.now();
  const p = sleepUnlessCancelled(5000, (l) => {
    cancel = l;
    return { dispose: () => (cancel = undefined) };
  });
  setTimeout(() => cancel?.(), 20);
  assert.equal(await p, false);
  assert.ok(Date.now() - started < 1000);
  assert.equal(await sleepUnlessCancelled(10, () => ({ dispose() {} })), true);
});
