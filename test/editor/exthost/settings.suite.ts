import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { api, setSetting, waitFor } from './helpers';

suite('settings', () => {
  teardown(async () => {
    await setSetting('inline.enabled', undefined);
    await setSetting('inline.languages', undefined);
  });

  test('Toggle Inline Suggestions flips moecode.inline.enabled and the status bar item', async () => {
    const a = await api();
    const before = a.config.inlineEnabled;
    await vscode.commands.executeCommand('moecode.toggleInline');
    await waitFor('the setting to flip', () => a.config.inlineEnabled === !before, 10_000);
    await waitFor('the status bar item to follow', () => /off/.test(a.statusBar.inlineText) === before, 10_000);
    await vscode.commands.executeCommand('moecode.toggleInline');
    await waitFor('the setting to flip back', () => a.config.inlineEnabled === before, 10_000);
  });

  test('moecode.inline.languages: allow-list and "!" exclusions; the daemon gets the allow-list only', async () => {
    const a = await api();
    await setSetting('inline.languages', ['typescript', '!markdown']);
    await waitFor('the setting', () => a.config.inlineLanguages.length === 2, 10_000);
    assert.equal(a.config.isLanguageEnabled('typescript'), true);
    assert.equal(a.config.isLanguageEnabled('python'), false);
    assert.equal(a.config.isLanguageEnabled('markdown'), false);
    assert.deepEqual(a.config.daemonSettings().inline, { languages: ['typescript'] });
    await setSetting('inline.languages', ['!markdown']);
    await waitFor('the setting', () => a.config.inlineLanguages.length === 1, 10_000);
    assert.equal(a.config.isLanguageEnabled('python'), true);
    assert.equal(a.config.isLanguageEnabled('markdown'), false);
    assert.deepEqual(a.config.daemonSettings().inline, { languages: [] });
  });

  test('daemon settings carry every daemon-side key in protocol.ts shape', async () => {
    const a = await api();
    const s = a.config.daemonSettings();
    assert.equal(typeof s.model?.path, 'string');
    assert.equal(typeof s.completion?.maxTokens, 'number');
    assert.equal(typeof s.chat?.temperature, 'number');
    assert.equal(typeof s.gpu?.memoryBudget, 'number');
    assert.ok(['auto', 'hardware', 'software'].includes((s.gpu as Record<string, unknown>).adapter as string));
    assert.equal('enabled' in (s.inline ?? {}), false, 'client-only settings stay in the client');
  });
});
