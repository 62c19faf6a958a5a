/**
 * A model whose weights make every logit NaN, loaded by the real daemon: an inline completion and a chat
 * request fail with RequestFailed (reason modelError) naming the real problem, not a token id outside
 * the vocabulary; the daemon keeps answering.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeNanOutputModel } from '../helpers/nan-model.js';
import { modelUnavailable, startDaemon, type DaemonClient } from './daemon-harness.js';

let dir = '';
let c: DaemonClient | undefined;
let noModel: string | undefined;

before(async () => {
  noModel = await modelUnavailable();
  dir = mkdtempSync(join(tmpdir(), 'moecode-lsp-nan-'));
});

after(() => {
  c?.kill();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('completion and chat on NaN logits fail naming the problem; the daemon carries on', async (t) => {
  if (noModel) return t.skip(noModel);
  const model = await writeNanOutputModel(dir);
  c = await startDaemon({ env: { MOECODE_MODEL: model }, settings: { completion: { maxTokens: 4, temperature: 0 }, chat: { maxTokens: 4, temperature: 0.7 } } });
  const s = await c.waitForState(['ready', 'error']);
  assert.equal(s.state, 'ready', s.message);
  const uri = 'file:///nan/a.py';
  c.open(uri, 'def add(a, b):\n    return a', 'python');
  const r = await c.inline(uri, 1, 12).response;
  assert.equal(r.error?.code, -32803, JSON.stringify(r));
  assert.deepEqual(r.error?.data, { reason: 'modelError' });
  assert.match(r.error!.message, /non-finite logits \(NaN\/inf\).*weights may be corrupt/);
  assert.doesNotMatch(r.error!.message, /4294967295/);
  const chat = await c.request('moecode/chat/send', { messages: [{ role: 'user', content: 'hi' }] }).response;
  assert.match(chat.error?.message ?? JSON.stringify(chat), /non-finite logits/);
  assert.equal((await c.status()).state, 'ready', 'still answering');
});
