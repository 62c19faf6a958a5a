/**
 * Entry point: wires the parts together and nothing else. Extension lifetime: config, daemon
 * connection, chat panel, status bar, commands. The daemon's own client lifetime lives in client.ts.
 */
import * as vscode from 'vscode';
import { ActionRegistry } from './actions';
import { CHAT_VIEW_ID, ChatController } from './chat/chat-view';
import { Daemon } from './client';
import { registerCommands } from './commands';
import { Config } from './config';
import { createInlineGate, type InlineGate } from './inline';
import { createPromptRegistry, syncPromptActions, type PromptRegistry } from './prompts';
import { StatusBar } from './status';

/** What `activate` returns: for other extensions (prompt files register actions here) and for tests. */
export interface MoecodeApi {
  config: Config;
  daemon: Daemon;
  chat: ChatController;
  actions: ActionRegistry;
  statusBar: StatusBar;
  inline: InlineGate;
  /** Prompt files (built-in, user and workspace `.moecode/prompts/*.prompt`), each also an action. */
  prompts: PromptRegistry;
}

let daemon: Daemon | undefined;

export function activate(context: vscode.ExtensionContext): MoecodeApi {
  const config = new Config();
  const inline = createInlineGate(config);
  daemon = new Daemon(context, config, inline);
  const actions = new ActionRegistry();
  const chat = new ChatController(context, daemon, actions);
  const statusBar = new StatusBar(daemon, config);
  const prompts = createPromptRegistry(context);
  const d = daemon;
  context.subscriptions.push(
    { dispose: () => void d.dispose() },
    chat,
    statusBar,
    prompts,
    syncPromptActions(prompts, actions),
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chat, { webviewOptions: { retainContextWhenHidden: true } }),
    ...registerCommands({ extension: context, config, daemon, chat, actions }),
    vscode.workspace.onDidChangeConfiguration((e) => {
      const keys = config.restartKeysChanged(e);
      if (keys.length) void d.restart(`settings changed: ${keys.map((k) => `moecode.${k}`).join(', ')}`).catch(() => undefined);
    }),
  );
  d.start().catch((e: unknown) => {
    void vscode.window.showErrorMessage(`MoeCode: the daemon could not start: ${e instanceof Error ? e.message : String(e)}`, 'Show Log').then((pick) => {
      if (pick) d.outputChannel.show();
    });
  });
  return { config, daemon, chat, actions, statusBar, inline, prompts };
}

export function deactivate(): Thenable<void> | undefined {
  return daemon?.stop();
}
