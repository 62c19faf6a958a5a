/**
 * A generated Mixtral-shaped model with a SentencePiece vocabulary (tools/modelgen, tokenizer
 * 'llama', F32) through `moecode run`: the prompt is tokenized as llama.cpp tokenizes it (with BOS),
 * and the streamed text is llama.cpp's own greedy continuation, detokenized by llama.cpp.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { after, test } from 'node:test';
import { tokenizerOfFile } from '../../daemon/cli/tokenize.js';
import { createGpu } from '../../daemon/gpu/device.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { disposeOracle, oracleGreedy, withLlamaModel } from '../helpers/llama-oracle.js';

const ROOT = resolve(__dirname, '..', '..');
const PROMPT = 'def count_words(lines):\n    counts = {}\n    for line in lines:\n        ';
const N = 12;

after(async () => {
  await disposeOracle();
});

test('moecode run on a SentencePiece model streams llama.cpp\'s greedy continuation', async (t) => {
  try {
    (await createGpu()).destroy();
  } catch (e) {
    return t.skip(`no WebGPU adapter: ${(e as Error).message}`);
  }
  let llamaAvailable = true;
  await import('node-llama-cpp').catch(() => (llamaAvailable = false));
  if (!llamaAvailable) return t.skip('node-llama-cpp unavailable');

  const path = await ensureModel({ arch: 'llama', tokenizer: 'llama', weightType: 'F32' });
  const tok = await tokenizerOfFile(path, () => {});
  assert.equal(tok.type, 'spm');
  const { ids, hidden } = await withLlamaModel(path, (m) => ({ ids: [m.tokens.bos!, ...Array.from(m.tokenize(PROMPT, false) as number[])], hidden: m.tokens.bos! }), true);
  assert.deepEqual(tok.encode(PROMPT), ids, 'prompt tokens');

  const greedy = await oracleGreedy(path, ids, N);
  const special = greedy.filter((id) => tok.isSpecial(id) || tok.isEog(id));
  assert.deepEqual(special, [], 'the continuation holds no special token (the test needs all N tokens as text)');
  const want = await withLlamaModel(path, (m) => m.detokenize([hidden, ...greedy] as never, false), true);

  const r = spawnSync(process.execPath, ['--import', 'tsx', 'daemon/cli/main.ts', 'run', path, '--prompt', PROMPT, '--max-tokens', String(N)], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, new RegExp(`prompt ${ids.length} tokens`));
  assert.ok(want.length > N, want);
  assert.equal(r.stdout, `${want}\n`);
  t.diagnostic(JSON.stringify(want));
});
