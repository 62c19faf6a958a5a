import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, hasDaemon, openSample, setSetting, waitFor, waitReady } from './helpers';

suite('daemon lifecycle (real daemon, generated tiny model)', function () {
  suiteSetup(function () {
    if (!hasDaemon()) {
      console.log('skipping the daemon lifecycle suite: dist/daemon.js is not built (run npm run build)');
      this.skip();
    }
  });

  test('the daemon starts in its own process and reaches ready; the status bar says so', async () => {
    const a = await api();
    await waitReady(a);
    assert.ok(a.daemon.pid && a.daemon.pid !== process.pid, 'the daemon runs in its own process');
    assert.ok(a.daemon.status!.modelName, 'status names the model');
    assert.ok(a.daemon.status!.adapter, 'status names the adapter');
    await waitFor('"ready" in the status bar', () => /ready/.test(a.statusBar.text), 10_000);
  });

  test('a chat answer streams: deltas arrive before the answer and add up to it', async () => {
    const a = await api();
    await waitReady(a);
    const deltas: string[] = [];
    const result = await a.daemon.chat({ messages: [{ role: 'user', content: 'Say hi.' }], maxTokens: 12, temperature: 0 }, (d) => deltas.push(d));
    assert.ok(result.generatedTokens > 0, 'tokens were generated');
    assert.equal(deltas.join(''), result.text);
  });

  test('Explain Selection answers in the chat panel; New Chat clears it', async () => {
    const a = await api();
    await waitReady(a);
    const editor = await openSample('explain-me.ts', 'export function add(a: number, b: number): number {\n  return a + b;\n}\n');
    editor.selection = new vscode.Selection(0, 0, 2, 1);
    await vscode.commands.executeCommand('moecode.newChat');
    await vscode.commands.executeCommand('moecode.explainSelection');
    const turns = a.chat.turns;
    assert.equal(turns.length, 2);
    assert.equal(turns[0]!.role, 'user');
    assert.match(turns[0]!.content, /Explain/);
    assert.equal(turns[0]!.contextLabel, 'explain-me.ts:1-3');
    assert.equal(turns[1]!.role, 'assistant');
    assert.equal(turns[1]!.status, 'done', turns[1]!.error);
    await vscode.commands.executeCommand('moecode.newChat');
    assert.equal(a.chat.turns.length, 0);
  });

  test('Stop cancels a chat answer: the turn ends as stopped and the daemon takes new work', async () => {
    const a = await api();
    await waitReady(a);
    // a prompt that fills most of the tiny model's context (a fresh one, so no KV cache holds it): its
    // prefill runs in several scheduler steps, so the Stop sent on "busy" lands while the answer runs
    // however fast the backend decodes. Should an answer still end on its own first (the tiny model samples
    // its end-of-text now and then), the question is asked again in a new chat.
    const filler = Array.from({ length: 40 }, (_, i) => `gpu${i}`).join(' ');
    const ended: string[] = [];
    for (let attempt = 1; ; attempt++) {
      await vscode.commands.executeCommand('moecode.newChat');
      let first = true;
      const started = new Promise<void>((resolve) => {
        const sub = a.daemon.onDidChangeStatus((s) => {
          if (s.state === 'busy' && first) {
            first = false;
            sub.dispose();
            resolve();
          }
        });
      });
      const sending = a.chat.send(`Write a very long story about GPUs (${Date.now()}). ${filler}`, false);
      const streamed = waitFor('the first streamed text', () => (a.chat.turns[1]?.content.length ?? 0) > 0, 120_000).catch(() => undefined);
      await Promise.race([started, sending, streamed]);
      await vscode.commands.executeCommand('moecode.stopGeneration');
      await sending;
      const turn = a.chat.turns[1]!;
      if (turn.status === 'stopped') break;
      assert.equal(turn.status, 'done', turn.error);
      ended.push(`take ${attempt}: ended on its own`);
      assert.ok(attempt < 4, `every answer ended before Stop landed: ${ended.join('; ')}`);
    }
    assert.equal(a.chat.isBusy, false);
    const again = await a.daemon.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 2 }, () => undefined);
    assert.ok(again.generatedTokens > 0);
  });

  test('no inline request goes out for a disabled language', async () => {
    const a = await api();
    await waitReady(a);
    await setSetting('inline.languages', ['!plaintext']);
    try {
      await waitFor('the setting', () => !a.config.isLanguageEnabled('plaintext'), 10_000);
      const editor = await openSample('notes.txt', 'some notes\n', 'plaintext');
      editor.selection = new vscode.Selection(1, 0, 1, 0);
      const before = { ...a.inline.stats };
      await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
      await waitFor('the gate to be asked', () => a.inline.stats.skippedLanguage > before.skippedLanguage, 20_000);
      assert.equal(a.inline.stats.requested, before.requested);
    } finally {
      await setSetting('inline.languages', undefined);
    }
  });

  test('Restart Daemon starts a new process that reaches ready', async () => {
    const a = await api();
    await waitReady(a);
    const pid = a.daemon.pid;
    await vscode.commands.executeCommand('moecode.restartDaemon');
    await waitReady(a);
    assert.notEqual(a.daemon.pid, pid);
  });

  test('a killed daemon is restarted (with backoff) and serves again', async () => {
    const a = await api();
    await waitReady(a);
    const pid = a.daemon.pid!;
    const states: string[] = [];
    const sub = a.daemon.onDidChangeRunState((s) => states.push(s));
    try {
      process.kill(pid, 'SIGKILL');
      await waitFor('a new daemon process', () => a.daemon.isRunning && a.daemon.pid !== undefined && a.daemon.pid !== pid, 60_000);
      await waitReady(a);
      assert.ok(states.includes('restarting'), `run states seen: ${states.join(', ')}`);
      const r = await a.daemon.chat({ messages: [{ role: 'user', content: 'hi' }], maxTokens: 2 }, () => undefined);
      assert.ok(r.generatedTokens > 0);
    } finally {
      sub.dispose();
    }
  });

  test('changing moecode.gpu.adapter restarts the daemon', async () => {
    const a = await api();
    await waitReady(a);
    const pid = a.daemon.pid;
    await setSetting('gpu.adapter', 'software');
    try {
      await waitFor('a new daemon process', () => a.daemon.pid !== undefined && a.daemon.pid !== pid, 30_000);
      await waitReady(a);
    } finally {
      await setSetting('gpu.adapter', undefined);
    }
    await waitReady(a);
  });
});
