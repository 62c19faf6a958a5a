import assert from 'node:assert/strict';
import { test } from 'node:test';
import { trimTrailingWhitespace } from '../../daemon/completion/trim-trailing-whitespace.js';
import { at } from './completion-helpers.js';

test('trailing spaces and blank lines go, leading indentation stays', () => {
  const c = at('\n|\n');
  assert.equal(trimTrailingWhitespace('\n  a();  \n\n  ', c), '\n  a();');
  assert.equal(trimTrailingWhitespace('   ', c), '');
});
