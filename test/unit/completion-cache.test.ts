import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CompletionCache } from '../../daemon/completion/completion-cache.js';

test('an exact prefix and suffix give the cached suggestion', () => {
  const c = new CompletionCache();
  c.set('u', 'let x = ', ';\n', 'compute(1)');
  assert.equal(c.get('u', 'let x = ', ';\n'), 'compute(1)');
  assert.equal(c.get('v', 'let x = ', ';\n'), undefined, 'another document');
  assert.equal(c.get('u', 'let x = ', '\n'), undefined, 'another suffix');
});

test('typing the start of a suggestion serves the rest of it', () => {
  const c = new CompletionCache();
  c.set('u', 'let x = ', ';\n', 'compute(1)');
  assert.equal(c.get('u', 'let x = com', ';\n'), 'pute(1)');
  assert.equal(c.get('u', 'let x = cx', ';\n'), undefined, 'typed something else');
  assert.equal(c.get('u', 'let x = compute(1)', ';\n'), undefined, 'typed all of it');
  assert.equal(c.get('u', 'let y = com', ';\n'), undefined, 'the text before changed');
});

test('empty answers are cached too, exactly', () => {
  const c = new CompletionCache();
  c.set('u', 'a', 'b', '');
  assert.equal(c.get('u', 'a', 'b'), '');
  assert.equal(c.get('u', 'ax', 'b'), undefined);
});

test('the cache is bounded, oldest out first, and can be cleared per document', () => {
  const c = new CompletionCache(3);
  for (let i = 0; i < 5; i++) c.set('u', `p${i}`, '', `s${i}`);
  assert.equal(c.size, 3);
  assert.equal(c.get('u', 'p0', ''), undefined);
  assert.equal(c.get('u', 'p4', ''), 's4');
  c.set('w', 'p', '', 'x');
  c.clear('u');
  assert.equal(c.size, 1);
  c.clear();
  assert.equal(c.size, 0);
});

test('the newest entry wins when several match', () => {
  const c = new CompletionCache();
  c.set('u', 'a', '', 'bcd');
  c.set('u', 'ab', '', 'cXY');
  assert.equal(c.get('u', 'abc', ''), 'XY');
});
