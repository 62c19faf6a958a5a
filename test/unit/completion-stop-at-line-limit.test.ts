import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stopAtLineLimit } from '../../daemon/completion/stop-at-line-limit.js';
import { at } from './completion-helpers.js';

test('single-line: cut at the first newline', () => {
  const c = at('const x = |\n');
  assert.equal(stopAtLineLimit('42;', c), undefined);
  assert.equal(stopAtLineLimit('42;\nconst y = 1;', c), 3);
  assert.equal(stopAtLineLimit('\n', c), 0);
});

test('multi-line: cut after maxLines lines', () => {
  const c = at('function f() {\n  |\n}\n', 'typescript', 3);
  assert.equal(stopAtLineLimit('a();\n  b();\n  c();', c), undefined);
  const text = 'a();\n  b();\n  c();\n  d();';
  assert.equal(stopAtLineLimit(text, c), text.indexOf('\n  d();'));
});

test('multi-line: a block that starts by ending the cursor line does not count that line', () => {
  const c = at('if (x) {|\n', 'typescript', 2);
  const text = '\n  a();\n  b();\n  c();';
  assert.equal(stopAtLineLimit(text, c), text.indexOf('\n  c();'));
});
