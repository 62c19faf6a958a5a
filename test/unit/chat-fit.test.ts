/** The fitting helpers: binary search for the largest fit, heads of texts by lines then characters, notes. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { capChars, fitHeads, largestFitting, leftOutNote } from '../../daemon/features/chat-fit.js';

describe('fitting helpers', () => {
  test('largestFitting: the largest k that fits, in about log2 calls', async () => {
    let calls = 0;
    const fits = (limit: number) => async (k: number) => (calls++, k <= limit);
    assert.equal(await largestFitting(0, 1000, fits(637)), 637);
    assert.ok(calls <= 12, `${calls} calls`);
    assert.equal(await largestFitting(5, 9, fits(3)), undefined);
    assert.equal(await largestFitting(0, 9, fits(100)), 9);
  });

  test('fitHeads: whole lines first, then characters of the first line', async () => {
    const text = 'aaaa\nbbbb\ncccc';
    assert.deepEqual(await fitHeads([text], async ([h]) => h!.length <= 11), ['aaaa\nbbbb\n']);
    assert.deepEqual(await fitHeads([text], async ([h]) => h!.length <= 3), ['aaa']);
    assert.equal(await fitHeads([text], async () => false), undefined);
  });

  test('leftOutNote', () => {
    const text = 'l1\nl2\nl3\nl4';
    assert.equal(leftOutNote(text, text.length, 'x'), '');
    assert.equal(leftOutNote(text, 6, 'the selection', 40), "lines 42–43 of the selection were left out to fit the model's context");
    assert.equal(leftOutNote(text, 9, 'the selection', 40), "line 43 of the selection was left out to fit the model's context");
    assert.equal(leftOutNote(text, 10, 'x'), "line 4 of x was cut after 1 character (the rest of it was left out) to fit the model's context");
  });
});

test('capChars cuts at a line end when there is one', () => {
  assert.equal(capChars('ab\ncd\nef', 100), 'ab\ncd\nef');
  assert.equal(capChars('ab\ncd\nef', 7), 'ab\ncd\n');
  assert.equal(capChars('abcdef', 3), 'abc');
});
