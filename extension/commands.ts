/**
 * Every command as a `(ctx) => handler` factory in one table (rust-analyzer's shape). package.json's
 * `contributes.commands` lists the same ids; the extension-host tests check both directions.
 */
import * as vscode from 'vscode';
import type { ActionRegistry } from './actions';
import type { ChatController } from './chat/chat-view';
import type { Daemon } from './client';
import type { Config } from './config';
import { selectModel } from './models/model-picker';
import { invalidApiKey } from './remote-key';

export interface Ctx {
  extension: vscode.ExtensionContext;
  config: Config;
  daemon: Daemon;
  chat: ChatController;
  actions: ActionRegistry;
}

type Handler = (...args: any[]) => unknown;
type Factory = (ctx: Ctx) => Handler;

/** Built-in action id → its command. */
export const ACTION_COMMANDS = {
  explain: 'moecode.explainSelection',
  fix: 'moecode.fixSelection',
  document: 'moecode.documentSelection',
  tests: 'moecode.writeTests',
} as const;

const runAction =
  (id: string): Factory =>
  (ctx) =>
  async () => {
    const action = ctx.actions.get(id);
    if (action) await ctx.chat.runAction(action);
  };

async function toggleInline(ctx: Ctx): Promise<boolean> {
  const next = !ctx.config.inlineEnabled;
  await ctx.config.set('inline.enabled', next);
  vscode.window.setStatusBarMessage(`MoeCode inline suggestions ${next ? 'on' : 'off'}`, 2500);
  return next;
}

/** Asks for the remote server's API key (hidden input) and stores it in SecretStorage; empty removes it. */
async function setRemoteApiKey(ctx: Ctx): Promise<void> {
  const url = ctx.config.get('remote.url').trim();
  const value = await vscode.window.showInputBox({
    title: 'MoeCode: Remote API Key',
    prompt: `The key ${url ? `for ${url}` : 'for the server in moecode.remote.url'}, sent as "Authorization: Bearer …" and kept in the system's secret store. Leave empty to remove it.`,
    password: true,
    ignoreFocusOut: true,
    validateInput: (v) => (v.trim() ? invalidApiKey(v.trim()) : undefined),
  });
  if (value === undefined) return;
  const key = value.trim();
  await ctx.daemon.setRemoteApiKey(key || undefined);
  vscode.window.setStatusBarMessage(key ? 'MoeCode: remote API key saved' : 'MoeCode: remote API key removed', 2500);
}

interface ActionPickItem extends vscode.QuickPickItem {
  run: () => unknown;
}

export const COMMANDS: Record<string, Factory> = {
  [ACTION_COMMANDS.explain]: runAction('explain'),
  [ACTION_COMMANDS.fix]: runAction('fix'),
  [ACTION_COMMANDS.document]: runAction('document'),
  [ACTION_COMMANDS.tests]: runAction('tests'),
  'moecode.runAction': (ctx) => async (id?: string) => {
    let action = id ? ctx.actions.get(id) : undefined;
    if (!action) {
      const picked = await vscode.window.showQuickPick(
        ctx.actions.all().map((a) => ({ label: a.title, description: a.description, id: a.id })),
        { title: 'MoeCode: Run Action', placeHolder: 'Action to run on the selection' },
      );
      action = picked ? ctx.actions.get(picked.id) : undefined;
    }
    if (action) await ctx.chat.runAction(action);
  },
  'moecode.openChat': (ctx) => () => ctx.chat.reveal(),
  'moecode.newChat': (ctx) => () => ctx.chat.newChat(),
  'moecode.stopGeneration': (ctx) => () => ctx.chat.stop(),
  'moecode.selectModel': (ctx) => () => selectModel(ctx.config, ctx.extension.extensionUri),
  'moecode.setRemoteApiKey': (ctx) => () => setRemoteApiKey(ctx),
  'moecode.toggleInline': (ctx) => () => toggleInline(ctx),
  'moecode.triggerInlineSuggestion': () => async () => {
    await vscode.commands.executeCommand('editor.action.inlineSuggest.trigger');
  },
  'moecode.showDaemonLog': (ctx) => () => ctx.daemon.outputChannel.show(true),
  'moecode.restartDaemon': (ctx) => () => ctx.daemon.restart('restart asked from the command palette'),
  'moecode.showActions': (ctx) => async () => {
    const status = ctx.daemon.status;
    const items: (ActionPickItem | vscode.QuickPickItem)[] = [
      ...ctx.actions.all().map((a): ActionPickItem => ({ label: `$(sparkle) ${a.title}`, description: a.description, run: () => ctx.chat.runAction(a) })),
      { label: '', kind: vscode.QuickPickItemKind.Separator },
      { label: '$(comment-discussion) Open Chat', run: () => ctx.chat.reveal() } as ActionPickItem,
      { label: ctx.config.inlineEnabled ? '$(circle-slash) Turn Inline Suggestions Off' : '$(sparkle) Turn Inline Suggestions On', run: () => toggleInline(ctx) } as ActionPickItem,
      status?.remote
        ? ({ label: '$(key) Set Remote API Key…', description: status.remote.url, run: () => setRemoteApiKey(ctx) } as ActionPickItem)
        : ({ label: '$(file-binary) Select Model…', description: status?.modelName, run: () => selectModel(ctx.config, ctx.extension.extensionUri) } as ActionPickItem),
      { label: '$(output) Show Daemon Log', run: () => ctx.daemon.outputChannel.show(true) } as ActionPickItem,
      { label: '$(debug-restart) Restart Daemon', run: () => ctx.daemon.restart('restart asked from the status bar') } as ActionPickItem,
    ];
    const picked = await vscode.window.showQuickPick(items, {
      title: status ? `MoeCode — ${status.modelName || 'no model'} (${status.state})` : 'MoeCode',
      placeHolder: 'MoeCode actions',
    });
    if (picked && 'run' in picked) await picked.run();
  },
};

export function registerCommands(ctx: Ctx): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, factory]) => vscode.commands.registerCommand(id, factory(ctx)));
}
