/**
 * A model whose weights make every logit NaN (output.weight all NaN, a real GGUF): generation fails with
 * NonFiniteLogitsError naming the real problem, greedy and sampled alike, where it used to say "token id
 * 4294967295 is outside the vocabulary"; the command line says the same for `run` and `eval`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { Engine } from '../../daemon/engine/engine.js';
import { generate } from '../../daemon/engine/generate.js';
import { NonFiniteLogitsError } from '../../daemon/model/sample-result.js';
import { writeNanOutputModel } from '../helpers/nan-model.js';
import { modelUnavailable } from '../lsp/daemon-harness.js';

const ROOT = resolve(__dirname, '..', '..');
let dir = '';
let nanModel = '';
let noModel: string | undefined;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moecode-nan-'));
  nanModel = await writeNanOutputModel(dir);
  noModel = await modelUnavailable();
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const isNonFinite = (e: unknown) => {
  assert.ok(e instanceof NonFiniteLogitsError, `expected NonFiniteLogitsError, got ${String(e)}`);
  assert.match(e.message, /non-finite logits \(NaN\/inf\).*weights may be corrupt/);
  return true;
};

test('generation on NaN logits fails with NonFiniteLogitsError, greedy and sampled', async (t) => {
  if (noModel) return t.skip(noModel);
  const engine = await Engine.load(nanModel);
  try {
    const prompt = engine.tokenizer.encode('def f(x):');
    for (const sampling of [
      { temperature: 0, topK: 1, topP: 1, seed: 0 },
      { temperature: 0.8, topK: 40, topP: 0.95, seed: 1 },
      { temperature: 1, topK: 0, topP: 1, seed: 2 },
    ]) {
      await assert.rejects(generate(engine.session(0), engine.tokenizer, prompt, { maxTokens: 4, sampling }), isNonFinite, JSON.stringify(sampling));
    }
  } finally {
    await engine.dispose();
  }
});

test('moecode run and eval on the NaN model name the problem, not a token id', (t) => {
  if (noModel) return t.skip(noModel);
  for (const args of [['run', nanModel, '--prompt', 'def f(x):', '--max-tokens', '4'], ['eval', nanModel, '--tokens', '1,2,3', '--json']]) {
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'daemon/cli/main.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^moecode: the model produced non-finite logits \(NaN\/inf\).*weights may be corrupt$/m);
    assert.doesNotMatch(r.stderr, /4294967295|outside the vocabulary/);
  }
});
