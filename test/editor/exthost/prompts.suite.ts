/**
 * Prompt files in a real extension host: discovery of the built-in, user and workspace prompt folders, live
 * reload on create/edit/delete, Problems-panel diagnostics at the right line (a broken file skipped, the
 * others kept), workspace-over-built-in precedence, and each prompt registered as a chat action (command
 * palette "Run Action", status-bar pick, /name in chat). The registry is built here from the extension's
 * own built-in folder; the last tests check main.ts's wiring and package.json's language registration.
 */
import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { applyPromptOutput, isPromptAction, syncPromptActions } from '../../../extension/prompts/prompt-actions';
import { builtinPromptFolder, PROMPT_LANGUAGE_ID, PromptRegistry, WORKSPACE_PROMPT_FOLDER } from '../../../extension/prompts/prompt-registry';
import { BUILTIN_PROMPTS } from '../../../extension/prompts/prompt-set';
import { TEMPLATE_RENDERER_BUNDLE, TemplateSandbox } from '../../../daemon/template/template-sandbox';
import { api, extensionPath, waitFor, workspaceFolder } from './helpers';

const enc = (s: string) => new TextEncoder().encode(s);

suite('prompt files', () => {
  let registry: PromptRegistry;
  let userDir: string;
  let promptDir: vscode.Uri;
  const write = (uri: vscode.Uri, text: string) => vscode.workspace.fs.writeFile(uri, enc(text));
  const inWorkspace = (name: string) => vscode.Uri.joinPath(promptDir, name);
  const diagnosticsOf = (uri: vscode.Uri) => vscode.languages.getDiagnostics(uri).filter((d) => d.source === 'moecode');

  suiteSetup(async () => {
    userDir = mkdtempSync(join(tmpdir(), 'moecode-user-prompts-'));
    promptDir = vscode.Uri.joinPath(workspaceFolder(), WORKSPACE_PROMPT_FOLDER);
    await vscode.workspace.fs.delete(promptDir, { recursive: true, useTrash: false }).then(undefined, () => undefined);
    registry = new PromptRegistry({
      builtinFolder: builtinPromptFolder(vscode.Uri.file(extensionPath())),
      userFolder: vscode.Uri.file(userDir),
      debounceMs: 50,
      sandbox: new TemplateSandbox({ script: join(extensionPath(), TEMPLATE_RENDERER_BUNDLE) }),
    });
    await registry.ready;
  });

  suiteTeardown(async () => {
    registry?.dispose();
    await vscode.workspace.fs.delete(vscode.Uri.joinPath(workspaceFolder(), '.moecode'), { recursive: true, useTrash: false }).then(undefined, () => undefined);
    rmSync(userDir, { recursive: true, force: true });
  });

  test('the built-in prompts load from the extension folder', () => {
    assert.deepEqual(registry.all().map((p) => p.name).sort(), [...BUILTIN_PROMPTS].sort());
    for (const name of BUILTIN_PROMPTS) assert.equal(registry.get(name)?.origin, 'builtin', name);
    assert.equal(registry.get('explain')?.title, 'Explain Selection');
  });

  test('a new workspace prompt file becomes a prompt and a chat action without a reload', async () => {
    const a = await api();
    const sync = syncPromptActions(registry, a.actions);
    let action: ReturnType<typeof a.actions.get>;
    try {
      await write(inWorkspace('hello.prompt'), '---\nname: hello\ndescription: Say hello\nselection: optional\n---\nHello {{ language }} at {{ path }}: {{ selection }}\n');
      const prompt = await waitFor('hello to load', () => registry.get('hello'), 20_000);
      assert.equal(prompt.origin, 'workspace');
      action = await waitFor('the hello action', () => a.actions.get('hello'), 5_000);
      assert.ok(isPromptAction(action));
      assert.equal(action.title, 'Hello');
      assert.ok(a.actions.all().some((x) => x.id === 'hello'), 'listed with the other actions');
      const request = await action.render({
        document: { uri: 'untitled:x', languageId: 'rust', path: 'src/main.rs' },
        selection: { range: { start: { line: 0, character: 0 }, end: { line: 0, character: 3 } }, text: 'fn!' },
      });
      assert.equal(request.kind, 'chat');
      assert.equal(request.kind === 'chat' && request.params.prompt, 'Hello rust at src/main.rs: fn!');
    } finally {
      sync.dispose();
    }
    assert.notEqual(a.actions.get('hello'), action, 'disposing the sync removes its actions');
  });

  test('editing a prompt file takes effect without a reload', async () => {
    await write(inWorkspace('hello.prompt'), '---\nname: hello\ndescription: Say hello again\n---\nHi {{ input }}\n');
    const prompt = await waitFor('the new description', () => registry.get('hello')?.description === 'Say hello again' && registry.get('hello'), 20_000);
    assert.deepEqual(prompt.variables, ['input']);
  });

  test('a broken file is skipped with diagnostics at the right line; the other files still load', async () => {
    const broken = inWorkspace('broken.prompt');
    await write(broken, '---\nname: broken\ntemprature: 0.2\n---\nExplain {{ selecton }}\n');
    const diagnostics = await waitFor('diagnostics of broken.prompt', () => diagnosticsOf(broken).length >= 2 && diagnosticsOf(broken), 20_000);
    const byCode = new Map(diagnostics.map((d) => [String(d.code), d]));
    const key = byCode.get('unknown-key');
    assert.ok(key, diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
    assert.deepEqual([key.range.start.line, key.range.start.character, key.range.end.character], [2, 0, 10]);
    assert.equal(key.severity, vscode.DiagnosticSeverity.Error);
    const variable = byCode.get('unknown-variable');
    assert.ok(variable);
    assert.deepEqual([variable.range.start.line, variable.range.start.character, variable.range.end.character], [4, 11, 19]);
    assert.equal(registry.get('broken'), undefined);
    assert.ok(registry.get('hello'), 'the good file is still loaded');

    await write(broken, '---\nname: broken\ntemperature: 0.2\n---\nExplain {{ selection }}\n');
    await waitFor('the fixed file to load', () => registry.get('broken'), 20_000);
    await waitFor('its diagnostics to clear', () => diagnosticsOf(broken).length === 0, 10_000);
  });

  test('a workspace prompt named like a built-in replaces it; deleting it brings the built-in back', async () => {
    const explain = inWorkspace('my-explain.prompt');
    await write(explain, '---\nname: explain\ntitle: Explain Our Way\n---\nExplain {{ selection }} our way\n');
    await waitFor('the workspace explain', () => registry.get('explain')?.origin === 'workspace', 20_000);
    assert.equal(registry.get('explain')?.title, 'Explain Our Way');
    await vscode.workspace.fs.delete(explain);
    await waitFor('the built-in explain again', () => registry.get('explain')?.origin === 'builtin', 20_000);
  });

  test('deleting a file removes its prompt and its diagnostics', async () => {
    const broken = inWorkspace('broken.prompt');
    await write(broken, '---\nname: broken\nbogus: 1\n---\nx\n');
    await waitFor('diagnostics', () => diagnosticsOf(broken).length > 0, 20_000);
    await vscode.workspace.fs.delete(broken);
    await waitFor('broken to go', () => !registry.get('broken') && diagnosticsOf(broken).length === 0, 20_000);
    await vscode.workspace.fs.delete(inWorkspace('hello.prompt'));
    await waitFor('hello to go', () => !registry.get('hello'), 20_000);
  });

  test('prompts in the user folder load and are watched', async () => {
    const uri = vscode.Uri.file(join(userDir, 'mine.prompt'));
    await write(uri, '---\nname: mine\n---\nMine: {{ selection }}\n');
    const prompt = await waitFor('the user prompt', () => registry.get('mine'), 30_000);
    assert.equal(prompt.origin, 'user');
    await vscode.workspace.fs.delete(uri);
    await waitFor('the user prompt to go', () => !registry.get('mine'), 30_000);
  });

  test('an open .prompt document shows problems while it is edited, before it is saved', async () => {
    const uri = vscode.Uri.joinPath(workspaceFolder(), 'draft.prompt');
    await write(uri, '---\nname: draft\n---\nHello {{ selection }}\n');
    try {
      const doc = await vscode.workspace.openTextDocument(uri);
      const editor = await vscode.window.showTextDocument(doc);
      await editor.edit((e) => e.insert(new vscode.Position(3, 0), '{{ nope }} '));
      const found = await waitFor('a live diagnostic', () => diagnosticsOf(uri).find((d) => d.code === 'unknown-variable'), 10_000);
      assert.deepEqual([found.range.start.line, found.range.start.character], [3, 3]);
      await editor.edit((e) => e.delete(new vscode.Range(3, 0, 3, 11)));
      await waitFor('the diagnostic to clear', () => diagnosticsOf(uri).length === 0, 10_000);
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    } finally {
      await vscode.workspace.fs.delete(uri).then(undefined, () => undefined);
    }
  });

  test('output: replace puts the code of the answer in place of the selection, output: insert after it; one undo each', async () => {
    const uri = vscode.Uri.joinPath(workspaceFolder(), 'output-sample.ts');
    await write(uri, 'const a = 1;\nconst b = 2;\nconst c = 3;\n');
    try {
      const editor = await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(uri));
      const line1 = new vscode.Range(1, 0, 1, 12);
      assert.ok(await applyPromptOutput(editor, 'replace', 'Fixed:\n```ts\nconst b = 20;\n```\n', line1));
      assert.equal(editor.document.getText(), 'const a = 1;\nconst b = 20;\nconst c = 3;\n');
      assert.ok(await applyPromptOutput(editor, 'insert', '```ts\n/** c */\n```', new vscode.Range(1, 0, 1, 13)));
      assert.equal(editor.document.getText(), 'const a = 1;\nconst b = 20;\n/** c */\nconst c = 3;\n');
      await vscode.commands.executeCommand('undo');
      assert.equal(editor.document.getText(), 'const a = 1;\nconst b = 20;\nconst c = 3;\n');
      await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
    } finally {
      await vscode.workspace.fs.delete(uri).then(undefined, () => undefined);
    }
  });

  test('the extension wires prompt files into its actions (main.ts)', async function () {
    const a = (await api()) as unknown as Record<string, unknown>;
    assert.ok('prompts' in a, 'activate() returns the prompt registry');
    const prompts = a.prompts as PromptRegistry;
    await prompts.ready;
    const actions = (await api()).actions;
    for (const name of BUILTIN_PROMPTS) assert.ok(isPromptAction(actions.get(name)!), `${name} comes from its prompt file`);
  });

  test('.prompt files open in the moecode-prompt language', async function () {
    const pkg = vscode.extensions.getExtension('moecode.moecode')!.packageJSON as { contributes?: { languages?: { id: string }[] } };
    assert.ok(pkg.contributes?.languages?.some((l) => l.id === PROMPT_LANGUAGE_ID), `package.json contributes the ${PROMPT_LANGUAGE_ID} language`);
    const uri = vscode.Uri.joinPath(workspaceFolder(), 'lang.prompt');
    await write(uri, '---\nname: lang\n---\nHi\n');
    try {
      const doc = await vscode.workspace.openTextDocument(uri);
      assert.equal(doc.languageId, PROMPT_LANGUAGE_ID);
    } finally {
      await vscode.workspace.fs.delete(uri).then(undefined, () => undefined);
    }
  });
});
