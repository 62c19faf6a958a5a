import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropSuffixRepeat } from '../../daemon/completion/drop-suffix-repeat.js';
import { at } from './completion-helpers.js';

test('the end of a line suggestion that repeats the rest of the cursor line is dropped', () => {
  assert.equal(dropSuffixRepeat('a, b);', at('foo(|);\n')), 'a, b');
  assert.equal(dropSuffixRepeat('1;', at('x = |;\n')), '1');
});

test('a lone closing bracket is left to balance-brackets', () => {
  assert.equal(dropSuffixRepeat('bar(1)', at('foo(|)\n')), 'bar(1)');
});

test('trailing lines equal to the lines after the cursor are dropped', () => {
  const c = at('function f() {\n  |\n  return y;\n}\n');
  assert.equal(dropSuffixRepeat('const y = 2;\n  return y;\n}', c), 'const y = 2;');
});

test('lines that differ from what follows are kept', () => {
  const c = at('function f() {\n  |\n  return y;\n}\n');
  assert.equal(dropSuffixRepeat('const y = 2;\n  log(y);', c), 'const y = 2;\n  log(y);');
});
