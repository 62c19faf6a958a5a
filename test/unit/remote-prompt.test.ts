/**
 * What the daemon sends a remote server is bounded: prompt characters from the server's context length,
 * long attachments cut (and marked), oldest turns dropped so the kept conversation starts with a user
 * message, explanations with fewer surrounding lines, contextOverflow when even the last message is too
 * long. The remote settings are parsed like the others: bad values are ignored with a warning.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ResponseError } from 'vscode-languageserver/node';
import { DEFAULT_SETTINGS, type ChatMessage, type MoecodeErrorData } from '../../daemon/protocol.js';
import { mergeSettings } from '../../daemon/features/settings.js';
import { REMOTE_PROMPT_CHARS, remoteChatMessages, remoteExplainMessages, remotePromptChars } from '../../daemon/features/remote-prompt.js';

const overflow = (e: unknown) => (e as ResponseError<MoecodeErrorData>).data?.reason === 'contextOverflow';
const chars = (m: ChatMessage[]) => m.reduce((n, x) => n + x.content.length, 0);

test('the prompt budget: the server context less the answer, about 3 characters a token; a default when the server does not say', () => {
  assert.equal(remotePromptChars(undefined, 512), REMOTE_PROMPT_CHARS);
  assert.equal(remotePromptChars(32768, 512), (32768 - 512) * 3);
  // a huge maxTokens takes at most half the context
  assert.equal(remotePromptChars(4096, 100_000), 2048 * 3);
  assert.equal(remotePromptChars(100, 10), 1000);
});

test('a conversation that fits is sent whole, with the default system prompt first', () => {
  const out = remoteChatMessages([{ role: 'user', content: 'hi' }], [], 10_000);
  assert.equal(out.length, 2);
  assert.equal(out[0]!.role, 'system');
  assert.deepEqual(out[1], { role: 'user', content: 'hi' });
});

test('oldest turns go first; what is kept starts with a user message; the last user message stays', () => {
  const long = 'x'.repeat(3000);
  const msgs: ChatMessage[] = [
    { role: 'user', content: `old question ${long}` },
    { role: 'assistant', content: `old answer ${long}` },
    { role: 'user', content: `newer question ${long}` },
    { role: 'assistant', content: 'newer answer' },
    { role: 'user', content: 'now?' },
  ];
  const out = remoteChatMessages(msgs, [], 4000);
  assert.ok(chars(out) <= 4000);
  assert.equal(out[0]!.role, 'system');
  assert.equal(out[1]!.role, 'user', 'never starts with an assistant turn');
  assert.equal(out.at(-1)!.content, 'now?');
  assert.ok(!out.some((m) => m.content.startsWith('old')), 'the oldest turns were dropped');
});

test('an attachment longer than half the budget is cut and marked', () => {
  const out = remoteChatMessages([{ role: 'user', content: 'explain' }], [{ kind: 'file', path: 'big.ts', languageId: 'typescript', text: 'y'.repeat(50_000) }], 10_000);
  const last = out.at(-1)!.content;
  assert.ok(chars(out) <= 10_000, `${chars(out)} characters`);
  assert.match(last, /… \(truncated\)/);
  assert.match(last, /big\.ts/);
});

test('a last message longer than the budget is refused with contextOverflow, not sent', () => {
  assert.throws(() => remoteChatMessages([{ role: 'user', content: 'z'.repeat(20_000) }], [], 10_000), overflow);
});

test('explain: fewer surrounding lines until it fits; contextOverflow when the code alone does not', () => {
  const seen: number[] = [];
  const render = (n: number): ChatMessage[] => {
    seen.push(n);
    return [{ role: 'user', content: 'c'.repeat(100 + n * 100) }];
  };
  const out = remoteExplainMessages(render, 30, 1000);
  assert.deepEqual(seen, [30, 15, 7]);
  assert.equal(out[0]!.content.length, 800);
  assert.throws(() => remoteExplainMessages(() => [{ role: 'user', content: 'c'.repeat(5000) }], 30, 1000), overflow);
});

test('remote settings: strings trimmed, unknown FIM families and non-strings ignored with a warning', () => {
  const warnings: string[] = [];
  const s = mergeSettings(DEFAULT_SETTINGS, { remote: { url: '  http://gpu-box:30000/v1 ', model: 'grok-1', fimTemplate: 'codestral' } }, (w) => warnings.push(w));
  assert.deepEqual(s.remote, { url: 'http://gpu-box:30000/v1', model: 'grok-1', fimTemplate: 'codestral' });
  assert.equal(warnings.length, 0);
  const bad = mergeSettings(DEFAULT_SETTINGS, { remote: { url: 42, model: ['x'], fimTemplate: 'gpt-fim' } }, (w) => warnings.push(w));
  assert.deepEqual(bad.remote, DEFAULT_SETTINGS.remote);
  assert.equal(warnings.length, 3);
  assert.match(warnings.join('\n'), /moecode\.remote\.fimTemplate = "gpt-fim" is invalid/);
  assert.deepEqual(mergeSettings(DEFAULT_SETTINGS, { remote: { url: 'h'.repeat(5000) } }, () => undefined).remote.url, '', 'an absurdly long URL is refused');
});
