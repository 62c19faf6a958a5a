import assert from 'node:assert/strict';
import { test } from 'node:test';
import { postProcess } from '../../daemon/completion/pipeline.js';
import { stopAtRepeatedRun } from '../../daemon/completion/stop-at-repeated-run.js';
import { at } from './completion-helpers.js';

const c = at('def f(|\n', 'python');

test('a piece written three times in a row ends the suggestion after its first copy', () => {
  const text = ' max_idx: float = 1, max_idx: float = 1, max_idx: float = 1, max';
  assert.equal(text.slice(0, stopAtRepeatedRun(text, c)), ' max_idx: float = 1,');
  assert.equal(stopAtRepeatedRun('_gray_gray_gray_g', c), '_gray'.length);
  const params = 'a: int, b: str, b: str, b: str';
  assert.equal(params.slice(0, stopAtRepeatedRun(params, c)), 'a: int, b: str,', 'the cut moves to the next comma');
});

test('two copies, runs without letters and repeated whole lines are not its business', () => {
  for (const text of ['a, b = b, a', 'x.append(1); x.append(1)', '[0, 0, 0, 0, 0]', '# ------------------', '        return', 'foo\nfoo\nfoo\n', 'aaa']) {
    assert.equal(stopAtRepeatedRun(text, c), undefined, text);
  }
});

test('in the pipeline: generation is cut where the loop starts', () => {
  assert.equal(postProcess('x: int, y: int, y: int, y: int, y: int', at('def f(|)\n', 'python')), 'x: int, y: int,');
});
