import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextNonBlankLine, stopAtSuffixOverlap } from '../../daemon/completion/stop-at-suffix-overlap.js';
import { at } from './completion-helpers.js';

test('a generated line equal to the next line after the cursor ends the suggestion', () => {
  const c = at('function f() {\n  |\n\n  return x;\n}\n');
  const text = 'const x = 1;\n  return x;\n';
  assert.equal(stopAtSuffixOverlap(text, c), 'const x = 1;'.length);
});

test('indentation must match too', () => {
  const c = at('if (a) {\n  |\n}\n');
  // the completion's own inner closing brace is not the suffix's `}`
  assert.equal(stopAtSuffixOverlap('if (b) {\n    x();\n  }\n', c), undefined);
  assert.equal(stopAtSuffixOverlap('x();\n}\n', c), 'x();'.length);
});

test('only finished lines are compared', () => {
  const c = at('a\n|\nreturn y;\n');
  assert.equal(stopAtSuffixOverlap('foo();\nreturn y;', c), undefined);
});

test('on an empty line the first line counts as a whole line', () => {
  const c = at('a\n|\nreturn y;\n');
  assert.equal(stopAtSuffixOverlap('return y;\n', c), 0);
});

test('nextNonBlankLine skips the rest of the cursor line and blank lines', () => {
  assert.equal(nextNonBlankLine(')\n\n   \n  foo();  \nbar'), '  foo();');
  assert.equal(nextNonBlankLine('only this line'), undefined);
});
