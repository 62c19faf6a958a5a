/**
 * Status bar: one item with the model, its state (loading with %, ready, generating, error), the GPU
 * adapter (marked when it is a CPU fallback) and the last decode speed — or, with a remote server, its
 * host, model and health (connecting, ready, unreachable, refused key); a click opens the actions quick
 * pick. A second item toggles inline suggestions. Long model loads also show a progress notification.
 */
import * as vscode from 'vscode';
import type { StatusParams } from '../daemon/protocol';
import type { Daemon } from './client';
import type { Config } from './config';
import { describeStatus } from './status-text';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;
  private readonly inlineItem: vscode.StatusBarItem;
  private readonly disposables: vscode.Disposable[] = [];
  private progress: { report(p: { message?: string; increment?: number }): void; last: number; done: () => void } | undefined;
  private progressTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly daemon: Daemon,
    private readonly config: Config,
  ) {
    this.item = vscode.window.createStatusBarItem('moecode.status', vscode.StatusBarAlignment.Right, 100);
    this.item.name = 'MoeCode';
    this.item.command = 'moecode.showActions';
    this.inlineItem = vscode.window.createStatusBarItem('moecode.inline', vscode.StatusBarAlignment.Right, 99);
    this.inlineItem.name = 'MoeCode Inline Suggestions';
    this.inlineItem.command = 'moecode.toggleInline';
    this.disposables.push(
      this.item,
      this.inlineItem,
      daemon.onDidChangeStatus((s) => {
        this.update();
        this.trackLoad(s);
      }),
      daemon.onDidChangeRunState(() => this.update()),
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('moecode.inline')) this.updateInline();
      }),
      vscode.window.onDidChangeActiveTextEditor(() => this.updateInline()),
    );
    this.update();
    this.updateInline();
    this.item.show();
    this.inlineItem.show();
  }

  /** The main item's current text (tests read it through the extension's API). */
  get text(): string {
    return this.item.text;
  }
  get inlineText(): string {
    return this.inlineItem.text;
  }

  private update(): void {
    const d = describeStatus(this.daemon.status, this.daemon.state);
    this.item.text = d.text;
    this.item.tooltip = d.tooltip;
    this.item.accessibilityInformation = { label: d.text.replace(/\$\([^)]+\)\s*/g, ''), role: 'button' };
    this.item.backgroundColor =
      d.severity === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : d.severity === 'warning' ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  private updateInline(): void {
    const on = this.config.inlineEnabled;
    const lang = vscode.window.activeTextEditor?.document.languageId;
    const langOff = on && lang !== undefined && !this.config.isLanguageEnabled(lang);
    this.inlineItem.text = on ? (langOff ? '$(circle-slash) Inline' : '$(sparkle) Inline') : '$(circle-slash) Inline off';
    this.inlineItem.tooltip = on
      ? langOff
        ? `MoeCode inline suggestions are off for ${lang} (moecode.inline.languages). Click to turn them off everywhere.`
        : 'MoeCode inline suggestions are on. Click to turn them off.'
      : 'MoeCode inline suggestions are off. Click to turn them on.';
  }

  /** A progress notification while a load takes longer than a moment. */
  private trackLoad(s: StatusParams): void {
    // a remote server "loading" is only connecting: the status bar says so, no notification
    if (s.state === 'loading' && !s.remote) {
      if (this.progress) {
        const inc = Math.max(0, s.progress - this.progress.last);
        this.progress.last = s.progress;
        this.progress.report({ message: `${Math.round(s.progress)}%${s.message ? ` — ${s.message}` : ''}`, increment: inc });
      } else if (!this.progressTimer) {
        this.progressTimer = setTimeout(() => {
          this.progressTimer = undefined;
          if (this.daemon.status?.state === 'loading') this.openProgress(this.daemon.status);
        }, 1000);
      }
      return;
    }
    if (this.progressTimer) {
      clearTimeout(this.progressTimer);
      this.progressTimer = undefined;
    }
    this.progress?.done();
    this.progress = undefined;
  }

  private openProgress(s: StatusParams): void {
    void vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `MoeCode: loading ${s.modelName || 'model'}`, cancellable: false },
      (progress) =>
        new Promise<void>((resolve) => {
          this.progress = { report: (p) => progress.report(p), last: s.progress, done: resolve };
          progress.report({ message: `${Math.round(s.progress)}%`, increment: s.progress });
        }),
    );
  }

  dispose(): void {
    if (this.progressTimer) clearTimeout(this.progressTimer);
    this.progress?.done();
    for (const d of this.disposables.splice(0)) d.dispose();
  }
}
