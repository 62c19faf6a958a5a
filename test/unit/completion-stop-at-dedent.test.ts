import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stopAtDedent } from '../../daemon/completion/stop-at-dedent.js';
import { at } from './completion-helpers.js';

test('a line indented less than the cursor line ends the block', () => {
  const c = at('class A {\n  f() {\n    |\n');
  const text = 'return 1;\n  }\n  g() {}';
  assert.equal(stopAtDedent(text, c), 'return 1;'.length);
});

test('lines at the same indentation continue (siblings on an empty line)', () => {
  const c = at('function f() {\n  |\n');
  assert.equal(stopAtDedent('a();\n  b();\n\n  c();', c), undefined);
});

test('after an opening bracket a line back at the cursor line indentation ends it', () => {
  const c = at('  if (x) {|\n');
  const text = '\n    a();\n  }\n  b();';
  assert.equal(stopAtDedent(text, c), '\n    a();'.length);
});

test('an unfinished line counts once its indentation is known', () => {
  const c = at('  if (x) {|\n');
  assert.equal(stopAtDedent('\n    a();\n  ', c), undefined);
  assert.equal(stopAtDedent('\n    a();\n  }', c), '\n    a();'.length);
});

test('single-line suggestions are left alone', () => {
  const c = at('    x = |1\n');
  assert.equal(stopAtDedent('2\ny', c), undefined);
});
