/**
 * The VS Code side of prompt files: finds `.moecode/prompts/*.prompt` in every workspace folder, in the user's
 * folder (~/.moecode/prompts) and the built-in ones shipped in the extension (extension/prompts/builtin, read at
 * run time), watches them so a new, edited or deleted file takes effect without a reload, shows each file's
 * problems in the Problems panel (live while a .prompt file is edited), and tells listeners when the set of
 * prompts changed. Parsing and validation are the pure modules next to this one.
 *
 * Workspace trust: in Restricted Mode only the built-in and user prompts load; each workspace prompt file gets
 * an information diagnostic saying why it is not used, and the workspace's prompts load when the user grants
 * trust (onDidGrantWorkspaceTrust). Templates are only ever rendered in the bounded renderer (daemon/template/template-sandbox.ts);
 * an open workspace .prompt document in Restricted Mode gets the static checks only.
 */
import { createHash } from 'node:crypto';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { PromptApprovals } from './prompt-approvals';
import type { ParseResult, PromptDiagnostic, PromptOrigin } from './prompt-format';
import { checkPromptFile, parsePromptFile } from './prompt-parser';
import { resolvePromptSet, type PromptFileResult, type ResolvedPrompt } from './prompt-set';
import { appliesToLanguage } from './prompt-render';
import { TEMPLATE_RENDERER_BUNDLE, TemplateSandbox } from '../../daemon/template/template-sandbox';

export const PROMPT_LANGUAGE_ID = 'moecode-prompt';
/** Where prompt files live inside a workspace folder. */
export const WORKSPACE_PROMPT_FOLDER = '.moecode/prompts';
export const DIAGNOSTIC_SOURCE = 'moecode';

export function defaultUserPromptFolder(): vscode.Uri {
  return vscode.Uri.joinPath(vscode.Uri.file(homedir()), '.moecode', 'prompts');
}

export function builtinPromptFolder(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, 'extension', 'prompts', 'builtin');
}

export interface PromptRegistryOptions {
  /** The built-in prompt files (see builtinPromptFolder). */
  builtinFolder: vscode.Uri;
  /** Where templates are trial-rendered (and, through syncPromptActions, rendered for real); the registry disposes it. */
  sandbox: TemplateSandbox;
  /** The record of approved workspace prompts that edit the document; default: kept in memory, asked in a modal dialog. */
  approvals?: PromptApprovals;
  /** The user's prompt folder; default ~/.moecode/prompts. */
  userFolder?: vscode.Uri;
  /** Wait this long after a file event before reloading, to take a burst of events at once (ms). */
  debounceMs?: number;
  /**
   * Also compare the folders' listings and file times this often (ms; 0: never), in case a watcher misses
   * an event: in code-server a watcher sometimes stops reporting (seen in the extension-host tests).
   */
  pollMs?: number;
}

/**
 * Builds the registry from the extension's context: built-ins from the extension folder, the default user folder,
 * the bundled template renderer, approvals remembered in the workspace's state.
 */
export function createPromptRegistry(context: vscode.ExtensionContext, options: Partial<PromptRegistryOptions> = {}): PromptRegistry {
  return new PromptRegistry({
    builtinFolder: builtinPromptFolder(context.extensionUri),
    sandbox: new TemplateSandbox({ script: join(context.extensionPath, TEMPLATE_RENDERER_BUNDLE) }),
    approvals: new PromptApprovals(context.workspaceState),
    ...options,
  });
}

/** Checked files, by URI and a hash of the text, so a reload or a poll does not render an unchanged template again. */
const CHECK_CACHE_LIMIT = 200;

export class PromptRegistry implements vscode.Disposable {
  private prompts: ResolvedPrompt[] = [];
  private readonly byName = new Map<string, ResolvedPrompt>();
  /** Diagnostics of the files on disk, by URI string. */
  private fileDiagnostics = new Map<string, PromptDiagnostic[]>();
  /** Diagnostics of open documents' current text, by URI string. */
  private readonly liveDiagnostics = new Map<string, PromptDiagnostic[]>();
  private readonly liveTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly checked = new Map<string, ParseResult>();
  private readonly diagnostics = vscode.languages.createDiagnosticCollection('moecode-prompts');
  private readonly changed = new vscode.EventEmitter<readonly ResolvedPrompt[]>();
  private readonly disposables: vscode.Disposable[] = [];
  private folderWatchers: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private loading: Promise<void> | undefined;
  private again = false;
  private rewatch = false;
  private disposed = false;
  private readonly userFolder: vscode.Uri;
  private readonly debounceMs: number;
  private poller: ReturnType<typeof setInterval> | undefined;
  /** Names, times and sizes of the prompt files at the last load, to tell whether a poll found a change. */
  private lastFingerprint = '';

  /** Fires with the new list after a reload changed the prompts in effect. */
  readonly onDidChange: vscode.Event<readonly ResolvedPrompt[]> = this.changed.event;
  /** Settles when the first load is done. */
  readonly ready: Promise<void>;
  readonly sandbox: TemplateSandbox;
  readonly approvals: PromptApprovals;

  constructor(private readonly options: PromptRegistryOptions) {
    this.userFolder = options.userFolder ?? defaultUserPromptFolder();
    this.debounceMs = options.debounceMs ?? 150;
    this.sandbox = options.sandbox;
    this.approvals = options.approvals ?? new PromptApprovals();
    this.watchFolders();
    this.disposables.push(
      this.diagnostics,
      this.changed,
      vscode.workspace.onDidChangeWorkspaceFolders(() => {
        this.watchFolders();
        this.scheduleReload();
      }),
      vscode.workspace.onDidGrantWorkspaceTrust(() => {
        this.rewatch = true;
        this.scheduleReload();
        for (const doc of vscode.workspace.textDocuments) this.validateOpen(doc);
      }),
      vscode.workspace.onDidOpenTextDocument((doc) => this.validateOpen(doc)),
      vscode.workspace.onDidChangeTextDocument((e) => this.validateOpen(e.document)),
      vscode.workspace.onDidCloseTextDocument((doc) => {
        this.liveDiagnostics.delete(doc.uri.toString());
        this.publish(doc.uri);
      }),
      vscode.workspace.onDidSaveTextDocument((doc) => this.onWorkspaceEdit([doc.uri])),
      vscode.workspace.onDidCreateFiles((e) => this.onWorkspaceEdit(e.files)),
      vscode.workspace.onDidDeleteFiles((e) => this.onWorkspaceEdit(e.files)),
      vscode.workspace.onDidRenameFiles((e) => this.onWorkspaceEdit(e.files.flatMap((f) => [f.oldUri, f.newUri]))),
    );
    for (const doc of vscode.workspace.textDocuments) this.validateOpen(doc);
    this.ready = this.reload();
    const pollMs = options.pollMs ?? 3000;
    if (pollMs > 0) this.poller = setInterval(() => void this.poll(), pollMs);
  }

  /** The prompts in effect, sorted by name. */
  all(): readonly ResolvedPrompt[] {
    return this.prompts;
  }

  get(name: string): ResolvedPrompt | undefined {
    return this.byName.get(name);
  }

  /** The prompts that apply to a document of this language. */
  forLanguage(languageId: string): ResolvedPrompt[] {
    return this.prompts.filter((p) => appliesToLanguage(p, languageId));
  }

  /** Reads every prompt file again (file events call this by themselves). */
  reload(): Promise<void> {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = (async () => {
      try {
        do {
          this.again = false;
          await this.load();
        } while (this.again && !this.disposed);
      } finally {
        this.loading = undefined;
      }
    })();
    return this.loading;
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.poller) clearInterval(this.poller);
    for (const t of this.liveTimers.values()) clearTimeout(t);
    for (const d of [...this.folderWatchers, ...this.disposables]) d.dispose();
    this.sandbox.dispose();
  }

  /** Every prompt folder; the workspace's are read only when the workspace is trusted (see load). */
  private sources(): { folder: vscode.Uri; origin: PromptOrigin }[] {
    return [
      { folder: this.options.builtinFolder, origin: 'builtin' },
      { folder: this.userFolder, origin: 'user' },
      ...workspacePromptFolders().map((folder) => ({ folder, origin: 'workspace' as const })),
    ];
  }

  /** Whether a template from this file may be trial-rendered: not a workspace's file while the workspace is untrusted. */
  private mayRender(uri: vscode.Uri): boolean {
    if (vscode.workspace.isTrusted) return true;
    const path = uri.path;
    return [this.userFolder, this.options.builtinFolder].some((f) => uri.scheme === f.scheme && path.startsWith(`${f.path.replace(/\/$/, '')}/`));
  }

  /** checkPromptFile (with a trial render) or, for an untrusted workspace's file, parsePromptFile; cached by URI and text. */
  private async check(text: string, uri: vscode.Uri): Promise<ParseResult> {
    const render = this.mayRender(uri);
    const key = `${render ? 'render' : 'static'}\0${uri.toString()}\0${createHash('sha256').update(text).digest('hex')}`;
    const cached = this.checked.get(key);
    if (cached) return cached;
    const result = render ? await checkPromptFile(text, uri.toString(), this.sandbox) : parsePromptFile(text, uri.toString());
    if (this.checked.size >= CHECK_CACHE_LIMIT) this.checked.clear();
    // a check the render process could not run is not remembered: the next load tries again
    if (!result.diagnostics.some((d) => d.code === 'template-unchecked')) this.checked.set(key, result);
    return result;
  }

  /** Reloads when a folder's listing or a file's time or size differs from the last load's. */
  private async poll(): Promise<void> {
    if (this.loading || this.timer || this.disposed) return;
    const now = await this.fingerprint();
    if (now !== this.lastFingerprint && !this.loading && !this.disposed) {
      this.rewatch = true;
      this.scheduleReload();
    }
  }

  private async fingerprint(): Promise<string> {
    const parts: string[] = [];
    for (const { folder, origin } of this.sources()) {
      if (origin === 'builtin') continue;
      for (const uri of await listPromptFiles(folder)) {
        const stat = await vscode.workspace.fs.stat(uri).then(
          (s) => `${s.mtime}:${s.size}`,
          () => 'gone',
        );
        parts.push(`${uri.toString()}@${stat}`);
      }
    }
    return parts.join('\n');
  }

  private async load(): Promise<void> {
    const sources = this.sources();
    this.lastFingerprint = await this.fingerprint();
    const trusted = vscode.workspace.isTrusted;
    const files: PromptFileResult[] = [];
    const notLoaded: string[] = [];
    for (const { folder, origin } of sources) {
      for (const uri of await listPromptFiles(folder)) {
        if (origin === 'workspace' && !trusted) {
          notLoaded.push(uri.toString());
          continue;
        }
        const text = await readText(uri);
        if (text === undefined || this.disposed) continue;
        const result = await this.check(text, uri);
        if (origin === 'builtin' && !result.prompt) console.error(`MoeCode: built-in prompt ${uri.toString()} is invalid`, result.diagnostics);
        files.push({ uri: uri.toString(), origin, result });
      }
    }
    if (this.disposed) return;
    const set = resolvePromptSet(files);
    const builtins = new Set(files.filter((f) => f.origin === 'builtin').map((f) => f.uri));
    const previous = this.fileDiagnostics;
    this.fileDiagnostics = new Map([...set.diagnostics].filter(([uri]) => !builtins.has(uri)));
    for (const uri of notLoaded) this.fileDiagnostics.set(uri, [untrustedDiagnostic()]);
    for (const uri of new Set([...previous.keys(), ...this.fileDiagnostics.keys()])) this.publish(vscode.Uri.parse(uri));

    const before = JSON.stringify(this.prompts);
    this.prompts = set.prompts;
    this.byName.clear();
    for (const p of set.prompts) this.byName.set(p.name, p);
    if (JSON.stringify(this.prompts) !== before) this.changed.fire(this.prompts);
  }

  private scheduleReload(): void {
    if (this.disposed) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      if (this.rewatch) {
        this.rewatch = false;
        this.watchFolders();
      }
      void this.reload();
    }, this.debounceMs);
  }

  /**
   * Watchers for each prompt folder, based on the folder's own URI: its `*.prompt` files, the folder itself
   * in its parent and the parent in the grandparent (so a folder made, deleted or made again is noticed; a
   * new folder gets fresh watchers, as a watcher set up before its folder existed may miss the first events).
   * Not `RelativePattern(workspaceFolder, '.moecode/prompts/*.prompt')`: in code-server 4.100 (VS Code 1.100)
   * that pattern only saw the workspace root's own entries, so edits inside .moecode/prompts went unseen.
   */
  private watchFolders(): void {
    for (const w of this.folderWatchers) w.dispose();
    this.folderWatchers = [];
    const folders = [this.userFolder, ...workspacePromptFolders()];
    for (const folder of folders) {
      const parent = vscode.Uri.joinPath(folder, '..');
      const grandparent = vscode.Uri.joinPath(parent, '..');
      this.watch(new vscode.RelativePattern(folder, '*.prompt'), false);
      this.watch(new vscode.RelativePattern(parent, baseName(folder)), true);
      this.watch(new vscode.RelativePattern(grandparent, baseName(parent)), true);
    }
  }

  private watch(pattern: vscode.RelativePattern, folderEvent: boolean): void {
    const watcher = vscode.workspace.createFileSystemWatcher(pattern);
    const onEvent = () => {
      if (folderEvent) this.rewatch = true;
      this.scheduleReload();
    };
    this.folderWatchers.push(watcher, watcher.onDidCreate(onEvent), watcher.onDidChange(onEvent), watcher.onDidDelete(onEvent));
  }

  /** Changes made inside VS Code (save, explorer create/delete/rename) reload at once, watcher or not. */
  private onWorkspaceEdit(uris: readonly vscode.Uri[]): void {
    if (uris.some((u) => u.path.endsWith('.prompt') || /\/\.moecode(\/prompts)?$/.test(u.path))) this.scheduleReload();
  }

  /**
   * Live diagnostics for an open .prompt document while it is edited (the registry itself changes on save):
   * checked a moment after the last change, off the typing path; a result for an older version is dropped.
   */
  private validateOpen(doc: vscode.TextDocument): void {
    if (!isPromptDocument(doc) || this.disposed) return;
    const key = doc.uri.toString();
    const pending = this.liveTimers.get(key);
    if (pending) clearTimeout(pending);
    this.liveTimers.set(
      key,
      setTimeout(() => {
        this.liveTimers.delete(key);
        const version = doc.version;
        this.check(doc.getText(), doc.uri).then(
          (result) => {
            if (this.disposed || doc.isClosed || doc.version !== version) return;
            this.liveDiagnostics.set(key, result.diagnostics);
            this.publish(doc.uri);
          },
          (e: unknown) => console.error(`MoeCode: checking ${key} failed`, e),
        );
      }, Math.min(this.debounceMs, 100)),
    );
  }

  /** Sets one file's diagnostics: the open, unsaved text's when it is being edited, else the last load's. */
  private publish(uri: vscode.Uri): void {
    if (this.disposed) return;
    const key = uri.toString();
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === key);
    const live = this.liveDiagnostics.get(key);
    let found: PromptDiagnostic[] | undefined;
    if (doc && isPromptDocument(doc) && !doc.isClosed && live && (doc.isDirty || !this.fileDiagnostics.has(key))) {
      found = live;
    } else {
      found = this.fileDiagnostics.get(key);
    }
    if (found && found.length > 0) this.diagnostics.set(uri, found.map(toVscodeDiagnostic));
    else this.diagnostics.delete(uri);
  }
}

function workspacePromptFolders(): vscode.Uri[] {
  return (vscode.workspace.workspaceFolders ?? []).map((f) => vscode.Uri.joinPath(f.uri, WORKSPACE_PROMPT_FOLDER));
}

function untrustedDiagnostic(): PromptDiagnostic {
  return {
    range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
    severity: 'information',
    code: 'untrusted-workspace',
    message: "Not loaded: this workspace is in Restricted Mode, and MoeCode uses a workspace's prompt files only when you trust it (Workspaces: Manage Workspace Trust). Built-in and your own prompts still work.",
  };
}

function baseName(uri: vscode.Uri): string {
  return uri.path.slice(uri.path.lastIndexOf('/') + 1);
}

function isPromptDocument(doc: vscode.TextDocument): boolean {
  return doc.languageId === PROMPT_LANGUAGE_ID || doc.uri.path.endsWith('.prompt');
}

const SEVERITY: Record<PromptDiagnostic['severity'], vscode.DiagnosticSeverity> = {
  error: vscode.DiagnosticSeverity.Error,
  warning: vscode.DiagnosticSeverity.Warning,
  information: vscode.DiagnosticSeverity.Information,
};

export function toVscodeDiagnostic(d: PromptDiagnostic): vscode.Diagnostic {
  const range = new vscode.Range(d.range.start.line, d.range.start.character, d.range.end.line, d.range.end.character);
  const diagnostic = new vscode.Diagnostic(range, d.message, SEVERITY[d.severity]);
  diagnostic.source = DIAGNOSTIC_SOURCE;
  diagnostic.code = d.code;
  return diagnostic;
}

/** The .prompt files directly in a folder, sorted by name; none when the folder does not exist. */
async function listPromptFiles(folder: vscode.Uri): Promise<vscode.Uri[]> {
  try {
    const entries = await vscode.workspace.fs.readDirectory(folder);
    return entries
      .filter(([name, type]) => name.endsWith('.prompt') && (type & vscode.FileType.File) !== 0)
      .map(([name]) => name)
      .sort()
      .map((name) => vscode.Uri.joinPath(folder, name));
  } catch {
    return [];
  }
}

async function readText(uri: vscode.Uri): Promise<string | undefined> {
  try {
    return new TextDecoder('utf-8').decode(await vscode.workspace.fs.readFile(uri));
  } catch {
    return undefined; // deleted between listing and reading: the watcher reloads again
  }
}
