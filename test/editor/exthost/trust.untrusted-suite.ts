/**
 * Prompt files in a window in Restricted Mode (run by test/editor/exthost-untrusted.test.ts: workspace trust on,
 * the folder untrusted; the workspace holds UNTRUSTED_WORKSPACE_FILES). Only the built-in and the user's prompts
 * load; the workspace's prompt files say why they are not used and nothing of them runs; when the user grants
 * trust (the harness clicks Trust in the Workspace Trust editor), the workspace's prompts load at once, and the
 * one that takes Explain Selection's place is marked as a workspace override.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { isPromptAction } from '../../../extension/prompts/prompt-actions';
import { api, requestFromHarness, waitFor, workspaceFolder } from './helpers';

const promptFile = (name: string) => vscode.Uri.joinPath(workspaceFolder(), '.moecode', 'prompts', name);
const diagnosticsOf = (uri: vscode.Uri) => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'moecode');
const codesOf = (uri: vscode.Uri) => diagnosticsOf(uri).map((d) => String(d.code));

suite('prompt files in an untrusted workspace', () => {
  test('the window is in Restricted Mode', () => {
    assert.equal(vscode.workspace.isTrusted, false);
  });

  test("only built-in and user prompts load: the workspace's explain (output: replace) does not take Explain Selection", async () => {
    const a = await api();
    await a.prompts.ready;
    assert.equal(a.prompts.get('explain')?.origin, 'builtin');
    assert.equal(a.prompts.get('team-review'), undefined);
    assert.equal(a.prompts.get('spin'), undefined);
    const explain = a.actions.get('explain');
    assert.ok(explain && isPromptAction(explain) && explain.prompt.origin === 'builtin');
    assert.equal(explain.title, 'Explain Selection');
    assert.equal(await explain.confirmRun?.(), true, 'a built-in never asks');
  });

  test('each workspace prompt file says why it is not used', async () => {
    for (const name of ['explain.prompt', 'team-review.prompt', 'spin.prompt']) {
      const d = await waitFor(`the Restricted Mode note on ${name}`, () => diagnosticsOf(promptFile(name)).find((x) => x.code === 'untrusted-workspace'), 20_000);
      assert.equal(d.severity, vscode.DiagnosticSeverity.Information);
      assert.match(d.message, /Restricted Mode/);
    }
  });

  test('an open workspace .prompt document gets the static checks only: its template is not run', async () => {
    const doc = await vscode.workspace.openTextDocument(promptFile('spin.prompt'));
    const editor = await vscode.window.showTextDocument(doc);
    await editor.edit((e) => e.insert(new vscode.Position(4, 0), '{{ nope }}'));
    // the static check answers; a trial render of this template would take 2 s and report template-limit
    await waitFor('a static diagnostic', () => codesOf(doc.uri).includes('unknown-variable'), 10_000);
    await editor.edit((e) => e.delete(new vscode.Range(4, 0, 4, 10)));
    await waitFor('the static diagnostic to clear', () => !codesOf(doc.uri).includes('unknown-variable'), 10_000);
    await new Promise((r) => setTimeout(r, 4_000));
    assert.ok(!codesOf(doc.uri).includes('template-limit'), `no trial render in Restricted Mode: ${codesOf(doc.uri).join(', ')}`);
  });

  test('granting trust loads the workspace prompts; the override is marked, and the hostile one is rejected', async function () {
    const a = await api();
    const granted = new Promise<void>((resolve) => vscode.workspace.onDidGrantWorkspaceTrust(() => resolve()));
    if (!requestFromHarness('grant-workspace-trust')) {
      console.log('skipping: granting trust needs the run-exthost harness (MOECODE_EXTHOST_REQUESTS is not set)');
      this.skip();
    }
    await Promise.race([granted, new Promise((_, reject) => setTimeout(() => reject(new Error('trust was not granted within 60 s')), 60_000))]);
    assert.equal(vscode.workspace.isTrusted, true);

    const explain = await waitFor('the workspace explain', () => a.prompts.get('explain')?.origin === 'workspace' && a.prompts.get('explain'), 20_000);
    assert.deepEqual(explain.overridesBuiltin?.title, 'Explain Selection');
    assert.ok(a.prompts.get('team-review'));
    const action = await waitFor('the explain action from the workspace', () => {
      const x = a.actions.get('explain');
      return x && isPromptAction(x) && x.prompt.origin === 'workspace' && x;
    });
    assert.equal(action.title, 'Team Explain (workspace)');
    assert.match(action.description ?? '', /workspace override of the built-in "Explain Selection"/);
    assert.match(action.description ?? '', /replaces your selection with the answer/);
    assert.match(action.description ?? '', /\.moecode\/prompts\/explain\.prompt/);

    const explainFile = promptFile('explain.prompt');
    await waitFor('the override note instead of the Restricted Mode note', () => {
      const codes = codesOf(explainFile);
      return codes.includes('overrides-builtin') && !codes.includes('untrusted-workspace');
    }, 20_000);
    // the open spin.prompt (and the file on disk) are now trial-rendered, in the bounded worker
    const limit = await waitFor('spin.prompt rejected', () => diagnosticsOf(promptFile('spin.prompt')).find((d) => d.code === 'template-limit'), 20_000);
    assert.match(limit.message, /longer than 2 s/);
    assert.equal(a.prompts.get('spin'), undefined);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });
});
