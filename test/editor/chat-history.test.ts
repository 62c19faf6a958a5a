/** The per-workspace chat history: what survives a reload, and what the model is sent. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type * as vscode from 'vscode';
import { ChatHistory, MAX_STORED_TURNS, type StoredTurn } from '../../extension/chat/chat-history';

function memento(): vscode.Memento & { data: Map<string, unknown> } {
  const data = new Map<string, unknown>();
  return {
    data,
    keys: () => [...data.keys()],
    get: <T>(key: string, def?: T) => (data.has(key) ? (structuredClone(data.get(key)) as T) : def),
    update: async (key: string, value: unknown) => void data.set(key, structuredClone(value)),
  } as vscode.Memento & { data: Map<string, unknown> };
}

const turn = (id: string, role: StoredTurn['role'], content: string, extra: Partial<StoredTurn> = {}): StoredTurn => ({ id, role, content, status: 'done', ...extra });

test('a saved conversation comes back after a reload; an answer cut off by the reload comes back as stopped', async () => {
  const m = memento();
  const h = new ChatHistory(m);
  h.add(turn('1', 'user', 'hi'));
  h.add(turn('2', 'assistant', 'hel', { status: 'streaming' }));
  await h.save();
  const restored = new ChatHistory(m);
  assert.deepEqual(restored.all().map((t) => [t.id, t.status, t.content]), [['1', 'done', 'hi'], ['2', 'stopped', 'hel']]);
});

test('the model gets user turns as it saw them (with attached code), not failed answers or empty ones', () => {
  const h = new ChatHistory(memento());
  h.add(turn('1', 'user', '**Fix** `a.ts:1-3`', { modelText: 'Find the bugs…\n```ts\nx\n```' }));
  h.add(turn('2', 'assistant', 'fixed'));
  h.add(turn('3', 'user', 'again'));
  h.add(turn('4', 'assistant', 'boom', { status: 'error', error: 'engine' }));
  h.add(turn('5', 'user', 'once more'));
  h.add(turn('6', 'assistant', '', { status: 'streaming' }));
  assert.deepEqual(h.toMessages(), [
    { role: 'user', content: 'Find the bugs…\n```ts\nx\n```' },
    { role: 'assistant', content: 'fixed' },
    { role: 'user', content: 'again' },
    { role: 'user', content: 'once more' },
  ]);
});

test(`history keeps the last ${MAX_STORED_TURNS} turns; clear empties it`, async () => {
  const m = memento();
  const h = new ChatHistory(m);
  for (let i = 0; i < MAX_STORED_TURNS + 10; i++) h.add(turn(String(i), i % 2 ? 'assistant' : 'user', `t${i}`));
  assert.equal(h.all().length, MAX_STORED_TURNS);
  assert.equal(h.all()[0]!.id, '10');
  h.clear();
  await h.save();
  assert.equal(new ChatHistory(m).all().length, 0);
});
