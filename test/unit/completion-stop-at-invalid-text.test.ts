/** Stop rule: a suggestion ends before a replacement character (bytes that are not UTF-8 text). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stopAtInvalidText } from '../../daemon/completion/stop-at-invalid-text.js';
import { at } from './completion-helpers.js';

test('the rule cuts before the first replacement character', () => {
  const c = at('const s = |\n');
  assert.equal(stopAtInvalidText('abc', c), undefined);
  assert.equal(stopAtInvalidText('ab\uFFFDc', c), 2);
  assert.equal(stopAtInvalidText('\uFFFD', c), 0);
});
