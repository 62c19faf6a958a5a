/**
 * `npm run demo` (tools/demo.ts), the README's main job: on the shipped model, without a GPU, it starts
 * the real daemon, gets inline suggestions through textDocument/inlineCompletion and an explanation,
 * prints the files with the suggestions marked, and exits 0.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { defaultModelPath } from '../../daemon/cli/default-model.js';
import { modelUnavailable, REPO } from './daemon-harness.js';

test('the demo shows marked inline suggestions and an explanation from the real daemon', async (t) => {
  const noModel = await modelUnavailable();
  if (noModel) return t.skip(noModel);
  if (!defaultModelPath()) return t.skip('the shipped model models/moecode-coder.gguf is missing');
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(REPO, 'tools', 'demo.ts')], { cwd: REPO, encoding: 'utf8', timeout: 180_000, env: { ...process.env, MOECODE_MODEL: '' } });
  assert.equal(r.signal, null, `the demo hung\n${r.stdout}\n${r.stderr}`);
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  const sections = r.stdout.split(/^── /m);
  const suggestions = sections.filter((s) => s.startsWith('inline suggestion'));
  assert.equal(suggestions.length, 2, r.stdout);
  for (const s of suggestions) assert.match(s, /⟦[^⟧\n]+⟧/, `a marked, non-empty suggestion:\n${s}`);
  // the cursor inside "le" gets a suggestion that continues the word (the daemon's token healing)
  assert.match(suggestions[0]!, /return sum\(values\) \/ le⟦[a-z]/);
  const explain = sections.find((s) => s.startsWith('explain'));
  assert.match(explain ?? '', /^→ \S.+$/m, 'an explanation was streamed');
  assert.doesNotMatch(r.stderr, /vkCreateInstance|Found no drivers/);
});
