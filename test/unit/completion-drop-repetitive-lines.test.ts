import assert from 'node:assert/strict';
import { test } from 'node:test';
import { dropRepetitiveLines } from '../../daemon/completion/drop-repetitive-lines.js';
import { at } from './completion-helpers.js';

const c = at('\n|\n');

test('three identical lines in a row keep only the first', () => {
  assert.equal(dropRepetitiveLines('a();\nx++;\nx++;\nx++;\nx++;', c), 'a();\nx++;');
});

test('two repeats, different indentation or blank lines are kept', () => {
  assert.equal(dropRepetitiveLines('x++;\nx++;\ny();', c), 'x++;\nx++;\ny();');
  assert.equal(dropRepetitiveLines('    }\n  }\n}', c), '    }\n  }\n}');
  assert.equal(dropRepetitiveLines('a\n\n\n\nb', c), 'a\n\n\n\nb');
});
