/** Shared by the extension-host suites: the extension's API, waiting on real signals, editors. */
import * as assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { MoecodeApi } from '../../../extension/main';

export const EXTENSION_ID = 'moecode.moecode';

export async function api(): Promise<MoecodeApi> {
  const ext = vscode.extensions.getExtension<MoecodeApi>(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not installed`);
  return ext.isActive ? ext.exports : ext.activate();
}

export function extensionPath(): string {
  return vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath;
}

export function hasDaemon(): boolean {
  return existsSync(join(extensionPath(), 'dist', 'daemon.js'));
}

/** Polls `check` until it returns a truthy value (or throws on timeout), for state that has no event. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function waitReady(a: MoecodeApi, timeoutMs = 180_000): Promise<void> {
  await waitFor('the daemon to be ready', () => a.daemon.isRunning && a.daemon.status?.state === 'ready', timeoutMs).catch((e: Error) => {
    throw new Error(`${e.message}; last status ${JSON.stringify(a.daemon.status)} run state ${a.daemon.state}`);
  });
}

export function workspaceFolder(): vscode.Uri {
  const f = vscode.workspace.workspaceFolders?.[0];
  assert.ok(f, 'the tests need a workspace folder');
  return f.uri;
}

export async function openSample(name: string, content: string, language?: string): Promise<vscode.TextEditor> {
  const uri = vscode.Uri.joinPath(workspaceFolder(), name);
  await vscode.workspace.fs.writeFile(uri, Buffer.from(content));
  let doc = await vscode.workspace.openTextDocument(uri);
  if (language && doc.languageId !== language) doc = await vscode.languages.setTextDocumentLanguage(doc, language);
  return vscode.window.showTextDocument(doc);
}

export async function setSetting(key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration('moecode').update(key, value, vscode.ConfigurationTarget.Workspace);
}

/**
 * Asks the test harness to do what the extension API cannot (run-exthost.ts: serveHarnessRequests), e.g.
 * 'grant-workspace-trust'. Returns false when no harness listens
 * (the @vscode/test-electron runner): the caller should skip.
 */
export function requestFromHarness(request: 'grant-workspace-trust'): boolean {
  const dir = process.env.MOECODE_EXTHOST_REQUESTS;
  if (!dir) return false;
  writeFileSync(join(dir, request), '');
  return true;
}
