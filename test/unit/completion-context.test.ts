import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indentWidth } from '../../daemon/completion/completion-context.js';
import { at } from './completion-helpers.js';

test('mid-line is a single line', () => {
  const c = at('const x = foo(|a);\n');
  assert.equal(c.multiline, false);
  assert.equal(c.maxLines, 1);
  assert.equal(c.linePrefix, 'const x = foo(');
  assert.equal(c.lineSuffix, 'a);');
});

test('an empty line is a block, with the line indentation as the start', () => {
  const c = at('function f() {\n    |\n}\n');
  assert.equal(c.multiline, true);
  assert.equal(c.opensBlock, false);
  assert.equal(c.indent, '    ');
  assert.equal(c.maxLines, 10);
});

test('after an opening bracket with only closers after the cursor is a block', () => {
  assert.equal(at('if (x) {|}\n').opensBlock, true);
  assert.equal(at('if (x) {|}\n').multiline, true);
  assert.equal(at('def f(x):|\n', 'python').multiline, true);
  assert.equal(at('const xs = [|\n').multiline, true);
  assert.equal(at('items.map((x) =>|\n').multiline, true);
});

test('an opening bracket followed by code on the same line stays single-line', () => {
  assert.equal(at('foo(|bar)\n').multiline, false);
  assert.equal(at('|const x = 1;\n').multiline, false);
});

test('maxLines is configurable', () => {
  assert.equal(at('\n|\n', 'go', 3).maxLines, 3);
});

test('indentWidth counts tabs as four columns', () => {
  assert.equal(indentWidth('\t  x'), 6);
  assert.equal(indentWidth('x'), 0);
  assert.equal(indentWidth('   '), 3);
});
