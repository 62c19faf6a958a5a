import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { SETTINGS, SETTING_KEYS } from '../../../extension/settings';
import { COMMANDS } from '../../../extension/commands';
import { api, EXTENSION_ID, waitFor } from './helpers';

suite('activation', () => {
  test('the extension activates on startup and returns its API', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext);
    await waitFor('activation (onStartupFinished)', () => ext.isActive, 60_000);
    const a = await api();
    for (const part of ['config', 'daemon', 'chat', 'actions', 'statusBar', 'inline'] as const) assert.ok(a[part], `API lacks ${part}`);
  });

  test('every contributed command is registered, and every registered moecode command is contributed', async () => {
    await api();
    const pkg = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as { contributes: { commands: { command: string }[] } };
    const contributed = pkg.contributes.commands.map((c) => c.command).sort();
    const registered = (await vscode.commands.getCommands(true)).filter((c) => c.startsWith('moecode.') && !c.startsWith('moecode.chat.')).sort();
    assert.deepEqual(registered, contributed);
    assert.deepEqual(Object.keys(COMMANDS).sort(), contributed);
  });

  test('VS Code sees every setting with the default declared in settings.ts', () => {
    const cfg = vscode.workspace.getConfiguration('moecode');
    for (const key of SETTING_KEYS) {
      const info = cfg.inspect(key);
      assert.ok(info, `moecode.${key} unknown to VS Code`);
      assert.deepEqual(info.defaultValue, SETTINGS[key].default, `default of moecode.${key}`);
    }
  });

  test('Open Chat shows the chat panel and its page reports ready', async () => {
    const a = await api();
    await vscode.commands.executeCommand('moecode.openChat');
    await waitFor('the chat webview', () => a.chat.isWebviewReady, 60_000);
  });

  test('the status bar shows the daemon state and the inline toggle', async () => {
    const a = await api();
    assert.match(a.statusBar.text, /MoeCode|ready|loading|starting|error|no model|generating/);
    assert.match(a.statusBar.inlineText, /Inline/);
  });
});
