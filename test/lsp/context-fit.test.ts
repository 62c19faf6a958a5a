/**
 * Explain and chat on a selection bigger than the model's context, with the shipped model (256-token
 * context) through the real daemon: instead of failing, the selection is cut from its end (whole lines,
 * or inside a very long line), the prompt fits, and the result's notes say which lines were left out.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ChatResult } from '../../daemon/protocol.js';
import { modelUnavailable, REPO, startDaemon, type DaemonClient } from './daemon-harness.js';

const SHIPPED = join(REPO, 'models/moecode-coder.gguf');
const MAX_TOKENS = 8;
const N_CTX = 256;
// the daemon's promptBudget(): the context minus the requested tokens (at most a quarter) minus one
const BUDGET = N_CTX - Math.min(MAX_TOKENS, N_CTX / 4) - 1;

let skip: string | undefined;
before(async () => {
  skip = existsSync(SHIPPED) ? await modelUnavailable() : 'models/moecode-coder.gguf is missing';
});

const LINES = Array.from({ length: 400 }, (_, i) => `export function f${i}(x: number): number { return x * ${i} + 1; }`);
const whole = (from: number, to: number) => ({ start: { line: from, character: 0 }, end: { line: to, character: 0 } });

describe('a selection bigger than the context', () => {
  let c: DaemonClient;
  const uri = 'file:///fit/big.ts';
  const wide = 'file:///fit/wide.js';
  before(async () => {
    if (skip) return;
    c = await startDaemon({ env: { MOECODE_MODEL: SHIPPED } });
    const s = await c.waitForState(['ready', 'error']);
    assert.equal(s.state, 'ready', s.message);
    c.open(uri, `// header\n${LINES.join('\n')}\n// footer\n`, 'typescript');
    // three lines, each far longer than the context
    c.open(wide, Array.from({ length: 3 }, (_, i) => `var data${i} = [${Array.from({ length: 300 }, (_, j) => j * (i + 1)).join(', ')}];`).join('\n') + '\n', 'javascript');
  });
  after(async () => {
    if (c) await c.shutdownAndExit();
  });

  test('explain on 400 lines: the first lines that fit, and a note naming the lines left out', async (t) => {
    if (skip) return t.skip(skip);
    const r = await c.call<ChatResult>('moecode/code/explain', { textDocument: { uri }, range: whole(1, 401), maxTokens: MAX_TOKENS, temperature: 0 });
    console.log(`explain: ${r.promptTokens} prompt tokens; ${JSON.stringify(r.notes)}`);
    assert.ok(r.promptTokens <= BUDGET, `${r.promptTokens} tokens`);
    assert.equal(r.notes?.length, 1);
    const m = /^Lines (\d+)–401 of the selected code were left out to fit the model's context\.$/.exec(r.notes![0]!);
    assert.ok(m, r.notes![0]);
    assert.ok(Number(m[1]) > 2 && Number(m[1]) < 401, `kept lines 2–${Number(m[1]) - 1}`);
  });

  test('chat with the 400 lines attached: the same, for the attachment', async (t) => {
    if (skip) return t.skip(skip);
    const r = await c.call<ChatResult>('moecode/chat/send', {
      messages: [{ role: 'user', content: 'What do these functions do?' }],
      attachments: [{ kind: 'selection', uri, range: whole(1, 401) }],
      maxTokens: MAX_TOKENS,
      temperature: 0,
    });
    console.log(`chat: ${r.promptTokens} prompt tokens; ${JSON.stringify(r.notes)}`);
    assert.ok(r.promptTokens <= BUDGET);
    assert.match(r.notes?.[0] ?? '', /^Lines \d+–401 of the selection from `\/fit\/big\.ts` were left out to fit the model's context\.$/);
  });

  test('three lines longer than the context: the first is cut inside, the others left out', async (t) => {
    if (skip) return t.skip(skip);
    for (const method of ['moecode/code/explain', 'moecode/chat/send'] as const) {
      const params =
        method === 'moecode/code/explain'
          ? { textDocument: { uri: wide }, range: whole(0, 3), maxTokens: MAX_TOKENS, temperature: 0 }
          : { messages: [{ role: 'user', content: 'Explain.' }], attachments: [{ kind: 'selection', uri: wide, range: whole(0, 3) }], maxTokens: MAX_TOKENS, temperature: 0 };
      const r = await c.call<ChatResult>(method, params);
      console.log(`${method}: ${r.promptTokens} prompt tokens; ${JSON.stringify(r.notes)}`);
      assert.ok(r.promptTokens <= BUDGET);
      assert.match(r.notes?.[0] ?? '', /^Line 1 of the (selected code|selection from `\/fit\/wide\.js`) was cut after \d+ characters \(the rest of it and lines 2–3 were left out\) to fit the model's context\.$/);
    }
  });

  test('a selection that fits has no notes', async (t) => {
    if (skip) return t.skip(skip);
    const r = await c.call<ChatResult>('moecode/code/explain', { textDocument: { uri }, range: whole(1, 3), maxTokens: MAX_TOKENS, temperature: 0 });
    assert.equal(r.notes, undefined);
  });
});
