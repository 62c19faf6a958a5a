/**
 * Prompt files that could hurt, in the real extension host with the extension's own prompt registry (main.ts's
 * wiring, the bundled template worker): hostile templates are rejected within seconds while the host keeps
 * turning its event loop; a workspace prompt that takes Explain Selection's place is marked as a workspace
 * override; when it would replace the selection, running it — from the chat controller or the Explain Selection
 * command — asks first, declining changes nothing, a yes is remembered for that version of the file only; a
 * real render past its limits fails with an error naming the file and nothing is sent.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { MoecodeApi } from '../../../extension/main';
import { PromptApprovals } from '../../../extension/prompts/prompt-approvals';
import { isPromptAction, syncPromptActions, type PromptAction } from '../../../extension/prompts/prompt-actions';
import type { ResolvedPrompt } from '../../../extension/prompts/prompt-set';
import { api, hasDaemon, openSample, waitFor, waitReady, workspaceFolder } from './helpers';

const enc = (s: string) => new TextEncoder().encode(s);
const promptFile = (name: string) => vscode.Uri.joinPath(workspaceFolder(), '.moecode', 'prompts', name);
const write = (name: string, text: string) => vscode.workspace.fs.writeFile(promptFile(name), enc(text));
const remove = (name: string) => vscode.workspace.fs.delete(promptFile(name)).then(undefined, () => undefined);
const diagnosticsOf = (uri: vscode.Uri) => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'moecode');

/** Runs `work` while a 10 ms timer ticks in this extension host; the longest gap between ticks (ms). */
async function longestStall<T>(work: () => Promise<T>): Promise<{ value: T; stallMs: number }> {
  let last = Date.now();
  let stallMs = 0;
  const tick = setInterval(() => {
    stallMs = Math.max(stallMs, Date.now() - last);
    last = Date.now();
  }, 10);
  try {
    const value = await work();
    return { value, stallMs: Math.max(stallMs, Date.now() - last) };
  } finally {
    clearInterval(tick);
  }
}

function workspaceAction(a: MoecodeApi, id: string): PromptAction | undefined {
  const x = a.actions.get(id);
  return x && isPromptAction(x) && x.prompt.origin === 'workspace' ? x : undefined;
}

suite('prompt file safety', () => {
  suiteTeardown(async () => {
    await vscode.workspace.fs.delete(vscode.Uri.joinPath(workspaceFolder(), '.moecode'), { recursive: true, useTrash: false }).then(undefined, () => undefined);
  });

  test('hostile workspace prompts are rejected within seconds, and the extension host stays responsive', async () => {
    const a = await api();
    const files = {
      'spin.prompt': '---\nname: spin\n---\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}{{ selection }}\n',
      'count.prompt': '---\nname: count\n---\nThere are {{ range(1000000000) | length }} numbers.\n',
      'grow.prompt': "---\nname: grow\n---\n{% set ns = namespace(s='xxxxxxxx') %}{% for i in range(24) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s }}\n",
    };
    const t0 = Date.now();
    const { stallMs } = await longestStall(async () => {
      for (const [name, text] of Object.entries(files)) await write(name, text);
      for (const name of Object.keys(files)) {
        await waitFor(`${name} rejected`, () => diagnosticsOf(promptFile(name)).some((d) => d.code === 'template-limit'), 20_000);
      }
    });
    console.log(`hostile prompts rejected after ${Date.now() - t0} ms; longest event-loop stall ${stallMs} ms`);
    assert.ok(stallMs < 1_000, `the extension host stalled for ${stallMs} ms`);
    for (const name of ['spin', 'count', 'grow']) assert.equal(a.prompts.get(name), undefined, name);
    const messages = Object.keys(files).map((n) => diagnosticsOf(promptFile(n)).find((d) => d.code === 'template-limit')!.message);
    assert.match(messages[0], /longer than 2 s/);
    assert.match(messages[1], /range\(\) of 1,000,000,000 items/);
    assert.match(messages[2], /longer than 262,144 characters/);
    for (const name of Object.keys(files)) await remove(name);
  });

  const TEAM_EXPLAIN = '---\nname: explain\ntitle: Team Explain\nselection: required\noutput: replace\n---\nRewrite {{ selection }} in {{ language }}\n';

  test('a workspace prompt in Explain Selection’s place is marked as a workspace override', async () => {
    const a = await api();
    await write('explain.prompt', TEAM_EXPLAIN);
    const action = await waitFor('the workspace explain action', () => workspaceAction(a, 'explain'), 20_000);
    assert.equal(action.title, 'Team Explain (workspace)');
    assert.match(action.description ?? '', /workspace override of the built-in "Explain Selection" · replaces your selection with the answer · \.moecode\/prompts\/explain\.prompt/);
    const note = await waitFor('the override note', () => diagnosticsOf(promptFile('explain.prompt')).find((d) => d.code === 'overrides-builtin'), 10_000);
    assert.equal(note.severity, vscode.DiagnosticSeverity.Information);
    assert.equal(note.range.start.line, 1);
  });

  test('running it asks first; declining changes nothing; a yes is remembered for this version of the file only', async function () {
    this.timeout(300_000);
    const a = await api();
    await write('explain.prompt', TEAM_EXPLAIN);
    const asked: ResolvedPrompt[] = [];
    let answer = false;
    const approvals = new PromptApprovals(undefined, async (p) => {
      asked.push(p);
      return answer;
    });
    const sync = syncPromptActions(a.prompts, a.actions, { approvals });
    try {
      const original = 'export function add(a: number, b: number): number {\n  return a + b;\n}\n';
      const editor = await openSample('replace-me.ts', original);
      editor.selection = new vscode.Selection(0, 0, 2, 1);
      await vscode.commands.executeCommand('moecode.newChat');

      await a.chat.runAction(await waitFor('explain', () => workspaceAction(a, 'explain')), editor);
      assert.equal(asked.length, 1, 'asked before running');
      assert.equal(asked[0].uri, promptFile('explain.prompt').toString());
      assert.equal(asked[0].output, 'replace');
      assert.equal(editor.document.getText(), original, 'declined: the document is unchanged');
      assert.equal(a.chat.turns.length, 0, 'declined: nothing was sent');

      await vscode.commands.executeCommand('moecode.explainSelection');
      assert.equal(asked.length, 2, 'the Explain Selection command runs the override, and asks');
      assert.equal(editor.document.getText(), original);

      if (!hasDaemon()) return console.log('the yes half needs the daemon (dist/daemon.js): skipped');
      await waitReady(a);
      answer = true;
      await a.chat.runAction(workspaceAction(a, 'explain')!, editor);
      assert.equal(asked.length, 3);
      assert.equal(a.chat.turns.length, 2, a.chat.turns.map((t) => `${t.role}: ${t.status} ${t.error ?? ''}`).join('\n'));
      assert.match(a.chat.turns[0].content, /Team Explain \(workspace\)/);
      const answerText = a.chat.turns[1].content;
      if (answerText.trim()) assert.notEqual(editor.document.getText(), original, 'approved: the answer replaced the selection');

      const now = editor.document.getText();
      editor.selection = new vscode.Selection(0, 0, 0, 6);
      answer = false;
      await a.chat.runAction(workspaceAction(a, 'explain')!, editor);
      assert.equal(asked.length, 3, 'the same version is not asked about again');

      await write('explain.prompt', '---\nname: explain\ntitle: Team Explain\nselection: required\noutput: replace\n---\nNow rewrite {{ selection }} differently\n');
      await waitFor('the edited prompt', () => workspaceAction(a, 'explain')?.prompt.userTemplate.startsWith('Now'), 20_000);
      const turns = a.chat.turns.length;
      editor.selection = new vscode.Selection(0, 0, 0, 6);
      const before = editor.document.getText();
      await a.chat.runAction(workspaceAction(a, 'explain')!, editor);
      assert.equal(asked.length, 4, 'an edited file is asked about again');
      assert.equal(editor.document.getText(), before, 'declined: unchanged');
      assert.equal(a.chat.turns.length, turns);
      assert.notEqual(now, original);
    } finally {
      sync.dispose();
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    }
  });

  test('a real render past its limits fails with an error naming the file, quickly, and nothing is sent', async () => {
    const a = await api();
    // harmless with a check's sample values; quadratic in the real selection
    await write('square.prompt', '---\nname: square\nselection: required\n---\n{% for a in range(selection|length) %}{% for b in range(selection|length) %}{% endfor %}{% endfor %}{{ selection }}\n');
    const action = await waitFor('the square action', () => workspaceAction(a, 'square'), 20_000);
    const editor = await openSample('big.txt', `${'x'.repeat(90_000)}\n`);
    editor.selection = new vscode.Selection(0, 0, 0, 90_000);
    await vscode.commands.executeCommand('moecode.newChat');
    const t0 = Date.now();
    const { stallMs } = await longestStall(() =>
      assert.rejects(action.render({ document: { uri: editor.document.uri.toString(), languageId: 'plaintext', path: 'big.txt' }, selection: { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 90_000 } }, text: editor.document.getText(editor.selection) } }), (e: Error) => {
        assert.match(e.message, /\/square \(.*square\.prompt\) could not be rendered: rendering took longer than 5 s/);
        return true;
      }),
    );
    const ms = Date.now() - t0;
    assert.ok(ms < 10_000, `stopped after ${ms} ms`);
    assert.ok(stallMs < 1_000, `the extension host stalled for ${stallMs} ms`);
    await a.chat.runAction(action, editor);
    assert.equal(a.chat.turns.length, 0, 'nothing was sent');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    await remove('square.prompt');
    await remove('explain.prompt');
    await waitFor('the built-in explain again', () => {
      const x = a.actions.get('explain');
      return x && isPromptAction(x) && x.prompt.origin === 'builtin';
    }, 20_000);
  });
});
