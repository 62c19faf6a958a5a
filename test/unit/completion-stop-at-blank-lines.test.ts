import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stopAtBlankLines } from '../../daemon/completion/stop-at-blank-lines.js';
import { at } from './completion-helpers.js';

test('two blank lines in a row end a block', () => {
  const c = at('\n|\n');
  assert.equal(stopAtBlankLines('a();\n\nb();', c), undefined);
  assert.equal(stopAtBlankLines('a();\n\n  \nb();', c), 'a();'.length);
});

test('not applied to single-line suggestions', () => {
  const c = at('x = |\n');
  assert.equal(stopAtBlankLines('1\n\n\n', c), undefined);
});
