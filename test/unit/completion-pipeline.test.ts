/** The filters together, on whole suggestions. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { POST_FILTERS, STOP_RULES, postProcess, stopPosition } from '../../daemon/completion/pipeline.js';
import { at } from './completion-helpers.js';

test('every filter is in the pipeline', () => {
  assert.equal(STOP_RULES.length, 5);
  assert.equal(POST_FILTERS.length, 4);
});

test('a mid-line suggestion keeps its first line without the repeated closers', () => {
  const c = at('const s = sum(|);\n');
  assert.equal(postProcess('a, b);\nconsole.log(s);', c), 'a, b');
});

test('a block body stops at the closing bracket that is already there', () => {
  const c = at('function f(a) {|}\n');
  assert.equal(postProcess('\n  return a * 2;\n}\n\nfunction g() {', c), '\n  return a * 2;');
});

test('stopPosition is the earliest rule', () => {
  const c = at('x = |\n');
  assert.equal(stopPosition('1\n\n\n', c), 1);
  assert.equal(stopPosition('1', c), undefined);
});

test('an empty suggestion stays empty', () => {
  assert.equal(postProcess('\n', at('x = |\n')), '');
});
