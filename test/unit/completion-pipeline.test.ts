/** The filters together, on whole suggestions. */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { POST_FILTERS, STOP_RULES, postProcess, stopPosition } from '../../daemon/completion/pipeline.js';
import { at } from './completion-helpers.js';

test('every filter file is in the pipeline: stop-at-* as stop rules, the others as post filters', async () => {
  const dir = join(__dirname, '..', '..', 'daemon', 'completion');
  const stops = readdirSync(dir).filter((f) => /^stop-at-.*\.ts$/.test(f));
  const posts = readdirSync(dir).filter((f) => /^(balance|drop|trim)-.*\.ts$/.test(f));
  assert.ok(stops.length >= 5 && posts.length >= 4, `${stops} ${posts}`);
  for (const [files, list] of [[stops, STOP_RULES], [posts, POST_FILTERS]] as const) {
    for (const f of files) {
      const exported = Object.values(await import(join(dir, f))).filter((v) => typeof v === 'function');
      assert.ok(exported.some((fn) => (list as readonly unknown[]).includes(fn)), `${f} is not in the pipeline`);
    }
    assert.equal(list.length, files.length, 'one pipeline entry per filter file');
  }
});

test('a mid-line suggestion keeps its first line without the repeated closers', () => {
  const c = at('const s = sum(|);\n');
  assert.equal(postProcess('a, b);\nconsole.log(s);', c), 'a, b');
});

test('a block body stops at the closing bracket that is already there', () => {
  const c = at('function f(a) {|}\n');
  assert.equal(postProcess('\n  return a * 2;\n}\n\nfunction g() {', c), '\n  return a * 2;');
});

test('stopPosition is the earliest rule', () => {
  const c = at('x = |\n');
  assert.equal(stopPosition('1\n\n\n', c), 1);
  assert.equal(stopPosition('1', c), undefined);
});

test('an empty suggestion stays empty', () => {
  assert.equal(postProcess('\n', at('x = |\n')), '');
});
