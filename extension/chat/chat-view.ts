/**
 * The chat side panel: a WebviewView (its page is extension/chat/webview/main.ts) and the controller
 * that runs conversations and actions against the daemon, streams answers into the page, and keeps
 * the history per workspace.
 */
import * as vscode from 'vscode';
import { LSPErrorCodes, ResponseError } from 'vscode-languageclient/node';
import type { GenerationResult, StatusParams } from '../../daemon/protocol';
import { chatNotice } from './chat-notice';
import { rangeLabel, type ActionContext, type ActionRegistry, type ActionRequest, type ChatAction } from '../actions';
import type { Daemon } from '../client';
import { applyPromptOutput, isPromptAction } from '../prompts';
import { ChatHistory, type StoredTurn } from './chat-history';
import type { FromWebview, SelectionInfo, ToWebview } from './messages';

export const CHAT_VIEW_ID = 'moecode.chat';

function nonce(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  let s = '';
  for (let i = 0; i < 32; i++) s += chars[Math.floor(Math.random() * chars.length)];
  return s;
}

/** The editor's context for actions and attachments, from a text editor. */
export function actionContextOf(editor: vscode.TextEditor, input?: string): ActionContext {
  const doc = editor.document;
  const sel = editor.selection;
  return {
    document: { uri: doc.uri.toString(), languageId: doc.languageId, path: doc.isUntitled ? doc.fileName : vscode.workspace.asRelativePath(doc.uri, false) },
    selection: sel.isEmpty
      ? undefined
      : { range: { start: { line: sel.start.line, character: sel.start.character }, end: { line: sel.end.line, character: sel.end.character } }, text: doc.getText(sel) },
    ...(input ? { input } : {}),
  };
}

export class ChatController implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private webviewReady = false;
  private readonly history: ChatHistory;
  private running: vscode.CancellationTokenSource | undefined;
  private runningDone: Promise<void> | undefined;
  private attach: boolean;
  private lastEditor: vscode.TextEditor | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private seq = 0;
  private saveTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly daemon: Daemon,
    private readonly actions: ActionRegistry,
  ) {
    this.history = new ChatHistory(context.workspaceState);
    this.attach = context.workspaceState.get('moecode.chat.attach', true);
    this.lastEditor = vscode.window.activeTextEditor;
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((e) => {
        if (e) this.lastEditor = e;
        this.postSelection();
      }),
      vscode.window.onDidChangeTextEditorSelection((e) => {
        this.lastEditor = e.textEditor;
        this.postSelection();
      }),
      actions.onDidChange(() => this.post({ type: 'commands', commands: this.slashCommands() })),
      daemon.onDidChangeStatus((s) => this.post({ type: 'notice', notice: this.noticeFor(s) })),
      daemon.onDidChangeRunState(() => this.post({ type: 'notice', notice: this.noticeFor(daemon.status) })),
    );
  }

  get isBusy(): boolean {
    return this.running !== undefined;
  }
  /** The turns of the conversation (for tests and the status quick pick). */
  get turns(): readonly StoredTurn[] {
    return this.history.all();
  }
  /** The notice line the panel shows now (undefined: none), for tests. */
  get notice(): string | undefined {
    return this.noticeFor(this.daemon.status);
  }

  get isWebviewReady(): boolean {
    return this.webviewReady;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.webviewReady = false;
    const webview = view.webview;
    webview.options = { enableScripts: true, localResourceRoots: [vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(this.context.extensionUri, 'media')] };
    webview.html = this.html(webview);
    view.onDidDispose(() => {
      if (this.view === view) {
        this.view = undefined;
        this.webviewReady = false;
      }
    }, undefined, this.disposables);
    webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m), undefined, this.disposables);
  }

  /** Shows the panel and puts the cursor in its input box. */
  async reveal(focusInput = true): Promise<void> {
    await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
    if (focusInput) this.post({ type: 'focusInput' });
  }

  async newChat(): Promise<void> {
    await this.stop();
    this.history.clear();
    await this.history.save();
    this.postInit();
  }

  /** Stops the answer being generated, if any, and waits until it has ended. */
  async stop(): Promise<void> {
    this.running?.cancel();
    await this.runningDone;
  }

  /** Runs an action on the active (or last used) editor's selection, answering in the panel. */
  async runAction(action: ChatAction, editor = vscode.window.activeTextEditor ?? this.lastEditor, input?: string): Promise<void> {
    if (!editor) {
      void vscode.window.showInformationMessage(`MoeCode: open a file and select some code to use "${action.title}".`);
      return;
    }
    // a workspace prompt that edits the document asks first (prompt files: prompt-approvals.ts)
    if (action.confirmRun && !(await action.confirmRun())) return;
    if (isPromptAction(action) && action.inputPrompt && input === undefined) {
      input = await vscode.window.showInputBox({ title: action.title, prompt: action.inputPrompt, ignoreFocusOut: true });
      if (input === undefined) return;
    }
    const ctx = actionContextOf(editor, input);
    // prompt files may put the answer into the editor (output: replace | insert): at the selection the model
    // is shown, captured with the context, before the render's wait lets the user move it
    const target = new vscode.Range(editor.selection.start, editor.selection.end);
    if (action.needsSelection && !ctx.selection) {
      void vscode.window.showInformationMessage(`MoeCode: select some code first, then run "${action.title}".`);
      return;
    }
    let request: ActionRequest;
    try {
      request = await action.render(ctx);
    } catch (e) {
      // a prompt file's template failed or went past its time/memory limit; the message names the file
      void vscode.window.showErrorMessage(`MoeCode: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    const output = isPromptAction(action) ? action.prompt.output : 'chat';
    await this.reveal(false);
    const modelText = request.kind === 'chat' ? request.params.prompt : `${request.display.text}\n\n${fenced(ctx)}`;
    const prior = this.history.toMessages();
    const answer = await this.converse({ content: request.display.text, contextLabel: request.display.contextLabel, modelText }, (onDelta, token) =>
      request.kind === 'explain'
        ? this.daemon.explain(request.params, onDelta, token)
        : this.daemon.chat({ ...withoutPrompt(request.params), messages: [...prior, { role: 'user', content: request.params.prompt }] }, onDelta, token),
    );
    if (output !== 'chat' && answer) await applyPromptOutput(editor, output, answer, target);
  }

  /** Sends a chat message typed by the user (or a `/command`). */
  async send(text: string, attach: boolean): Promise<void> {
    const slash = /^\/(\S+)\s*([\s\S]*)$/.exec(text);
    const action = slash ? this.actions.get(slash[1]!) : undefined;
    if (action) return this.runAction(action, undefined, slash![2]!.trim() || undefined);
    const editor = this.lastEditor ?? vscode.window.activeTextEditor;
    const ctx = attach && editor ? actionContextOf(editor) : undefined;
    const attachments = ctx?.selection
      ? [{ kind: 'selection' as const, uri: ctx.document.uri, path: ctx.document.path, languageId: ctx.document.languageId, range: ctx.selection.range, text: ctx.selection.text }]
      : [];
    const label = ctx?.selection ? rangeLabel(ctx.document.path, ctx.selection.range) : undefined;
    const messages = [...this.history.toMessages(), { role: 'user' as const, content: text }];
    await this.converse({ content: text, contextLabel: label, modelText: ctx?.selection ? `${text}\n\n${fenced(ctx)}` : text }, (onDelta, token) =>
      this.daemon.chat({ messages, attachments }, onDelta, token),
    );
  }

  private async converse(
    user: { content: string; contextLabel?: string; modelText: string },
    generate: (onDelta: (d: string) => void, token: vscode.CancellationToken) => Promise<GenerationResult>,
  ): Promise<string | undefined> {
    if (this.running) await this.stop();
    const userTurn: StoredTurn = { id: this.nextId(), role: 'user', content: user.content, contextLabel: user.contextLabel, modelText: user.modelText, status: 'done' };
    const answer: StoredTurn = { id: this.nextId(), role: 'assistant', content: '', status: 'streaming' };
    this.history.add(userTurn);
    this.history.add(answer);
    this.post({ type: 'turn', turn: userTurn });
    this.post({ type: 'turn', turn: answer });
    const cts = new vscode.CancellationTokenSource();
    this.running = cts;
    this.setBusy(true);
    let finish!: () => void;
    this.runningDone = new Promise((r) => (finish = r));
    try {
      const result = await generate((delta) => {
        answer.content += delta;
        this.post({ type: 'delta', id: answer.id, delta });
        this.saveSoon();
      }, cts.token);
      // the final text is authoritative (deltas concatenate to it)
      answer.content = result.text;
      answer.status = result.stopReason === 'cancelled' ? 'stopped' : 'done';
      answer.footer = footerOf(result);
    } catch (e) {
      if (cts.token.isCancellationRequested || (e instanceof ResponseError && e.code === LSPErrorCodes.RequestCancelled)) {
        answer.status = 'stopped';
      } else {
        answer.status = 'error';
        answer.error = e instanceof Error ? e.message : String(e);
      }
    } finally {
      this.running = undefined;
      cts.dispose();
      this.post({ type: 'turn', turn: answer });
      this.setBusy(false);
      await this.history.save();
      finish();
    }
    return answer.status === 'done' ? answer.content : undefined;
  }

  private onMessage(m: FromWebview): void {
    switch (m.type) {
      case 'ready':
        this.webviewReady = true;
        this.postInit();
        break;
      case 'send':
        void this.send(m.text, m.attach);
        break;
      case 'stop':
        void this.stop();
        break;
      case 'newChat':
        void this.newChat();
        break;
      case 'setAttach':
        this.attach = m.attach;
        void this.context.workspaceState.update('moecode.chat.attach', m.attach);
        break;
      case 'copy':
        void vscode.env.clipboard.writeText(m.code).then(() => vscode.window.setStatusBarMessage('MoeCode: code copied', 2000));
        break;
      case 'insert':
        void this.insertAtCursor(m.code);
        break;
      case 'open':
        void vscode.workspace.openTextDocument({ content: m.code, language: m.language }).then(
          (doc) => vscode.window.showTextDocument(doc, { preview: false }),
          // an unknown language id: open it as plain text
          () => vscode.workspace.openTextDocument({ content: m.code }).then((doc) => vscode.window.showTextDocument(doc, { preview: false })),
        );
        break;
    }
  }

  private async insertAtCursor(code: string): Promise<void> {
    const editor = this.lastEditor && !this.lastEditor.document.isClosed ? this.lastEditor : vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showInformationMessage('MoeCode: open an editor to insert the code into.');
      return;
    }
    const shown = await vscode.window.showTextDocument(editor.document, editor.viewColumn);
    await shown.edit((edit) => {
      for (const sel of shown.selections) edit.replace(sel, code);
    });
  }

  private setBusy(busy: boolean): void {
    this.post({ type: 'busy', busy });
    void vscode.commands.executeCommand('setContext', 'moecode.chatBusy', busy);
  }

  private saveSoon(): void {
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      void this.history.save();
    }, 1000);
  }

  private nextId(): string {
    return `${Date.now().toString(36)}-${(++this.seq).toString(36)}`;
  }

  private selectionInfo(): SelectionInfo | undefined {
    const editor = this.lastEditor;
    if (!editor || editor.document.isClosed || editor.selection.isEmpty) return undefined;
    const ctx = actionContextOf(editor);
    const sel = editor.selection;
    return { label: rangeLabel(ctx.document.path, ctx.selection!.range), lines: sel.end.line - sel.start.line + 1 };
  }

  private slashCommands() {
    return this.actions.all().map((a) => ({ name: a.id, description: a.description ?? a.title }));
  }

  private noticeFor(s: StatusParams | undefined): string | undefined {
    return chatNotice(this.daemon.state, s);
  }

  private postSelection(): void {
    this.post({ type: 'selection', selection: this.selectionInfo() });
  }

  private postInit(): void {
    this.post({
      type: 'init',
      turns: this.history.all().map(({ modelText: _m, ...t }) => t),
      busy: this.isBusy,
      selection: this.selectionInfo(),
      attach: this.attach,
      commands: this.slashCommands(),
      ready: this.daemon.status?.state === 'ready' || this.daemon.status?.state === 'busy',
      notice: this.noticeFor(this.daemon.status),
    });
  }

  private post(message: ToWebview): void {
    if (this.view && this.webviewReady) void this.view.webview.postMessage(message);
  }

  private html(webview: vscode.Webview): string {
    const n = nonce();
    const script = webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, 'dist', 'webview', 'chat.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(this.context.extensionUri, 'media', 'chat.css'));
    const csp = [`default-src 'none'`, `style-src ${webview.cspSource}`, `font-src ${webview.cspSource}`, `img-src ${webview.cspSource} data:`, `script-src 'nonce-${n}'`].join('; ');
    return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}">
<title>MoeCode Chat</title>
</head>
<body>
<div class="toolbar"><button id="new-chat" class="secondary" type="button" title="New Chat (Ctrl+L)">New Chat</button></div>
<div id="notice" role="status" hidden></div>
<div id="messages" role="log" aria-live="polite" aria-label="Conversation">
  <div id="empty">Ask about your code. Select code in the editor to attach it, or use <kbd>/explain</kbd>, <kbd>/fix</kbd>, <kbd>/document</kbd>, <kbd>/tests</kbd> on the selection.</div>
</div>
<div class="composer">
  <ul id="slash-suggestions" role="listbox" aria-label="Commands" hidden></ul>
  <div class="attach"><input type="checkbox" id="attach"><label id="attach-label" for="attach">Attach selection</label></div>
  <textarea id="input" rows="2" placeholder="Ask MoeCode… (Enter to send, Shift+Enter for a new line)" aria-label="Message" aria-autocomplete="list" aria-controls="slash-suggestions" aria-expanded="false"></textarea>
  <div class="composer-actions">
    <span class="hint"><kbd>Esc</kbd> stops · <kbd>Alt+A</kbd> attach</span>
    <span><button id="send" type="button">Send</button><button id="stop" type="button" class="secondary" hidden>Stop</button></span>
  </div>
</div>
<script nonce="${n}" src="${script}"></script>
</body>
</html>`;
  }

  dispose(): void {
    this.running?.cancel();
    if (this.saveTimer) clearTimeout(this.saveTimer);
    void this.history.save();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}

function fenced(ctx: ActionContext): string {
  if (!ctx.selection) return '';
  const fence = ctx.selection.text.includes('```') ? '````' : '```';
  return `${rangeLabel(ctx.document.path, ctx.selection.range)}\n${fence}${ctx.document.languageId}\n${ctx.selection.text}\n${fence}`;
}

function withoutPrompt<T extends { prompt: string }>(p: T): Omit<T, 'prompt'> {
  const { prompt: _p, ...rest } = p;
  return rest;
}

function footerOf(r: GenerationResult): string {
  const tps = r.decodeMs > 0 ? (r.generatedTokens / (r.decodeMs / 1000)).toFixed(1) : '–';
  return `${r.generatedTokens} tokens · ${tps} tok/s`;
}
