import assert from 'node:assert/strict';
import { test } from 'node:test';
import { balanceBrackets } from '../../daemon/completion/balance-brackets.js';
import { at } from './completion-helpers.js';

const c = at('foo(|\n');

test('brackets the suggestion opened may be closed', () => {
  assert.equal(balanceBrackets('bar(1), [2, {a: 3}]', c), 'bar(1), [2, {a: 3}]');
});

test('a closer for a bracket opened before the cursor cuts the suggestion', () => {
  assert.equal(balanceBrackets('a, b);', c), 'a, b');
  assert.equal(balanceBrackets('x)\n}\n', at('if (f(|\n')), 'x');
});

test('a mismatched closer cuts too', () => {
  assert.equal(balanceBrackets('[1, 2)', c), '[1, 2');
});

test('brackets in string literals are ignored', () => {
  assert.equal(balanceBrackets('"a)b", \'}\', `]`', c), '"a)b", \'}\', `]`');
  assert.equal(balanceBrackets('"esc\\")", 1)', c), '"esc\\")", 1');
});
