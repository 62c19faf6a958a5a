/**
 * The daemon connection: a LanguageClient that runs dist/daemon.js in VS Code's own Node (Dawn's addon
 * is N-API, so it loads there) over Node IPC. Owns the client lifetime: a restart disposes the old
 * LanguageClient and everything tied to it, then builds a new one. A crash restarts it with backoff
 * and tells the user once per session.
 */
import { existsSync } from 'node:fs';
import * as vscode from 'vscode';
import {
  CloseAction,
  ErrorAction,
  LanguageClient,
  RevealOutputChannelOn,
  State,
  TransportKind,
  type CloseHandlerResult,
  type ErrorHandler,
  type ErrorHandlerResult,
  type LanguageClientOptions,
  type ServerOptions,
} from 'vscode-languageclient/node';
import {
  ChatRequest,
  ExplainRequest,
  ModelLoadRequest,
  RemoteApiKeyNotification,
  SETTINGS_SECTION,
  StatusDidChangeNotification,
  StatusRequest,
  StreamAppendNotification,
  type ChatParams,
  type ExplainParams,
  type GenerationResult,
  type StatusParams,
} from '../daemon/protocol';
import type { Config } from './config';
import { inlineMiddleware, type InlineGate } from './inline';
import { KEY_SEAL_ENV, newSealSecret, sealApiKey } from '../daemon/remote/api-key-seal';
import { RemoteApiKey } from './remote-key';

import type { DaemonRunState } from './status-text';
export type { DaemonRunState } from './status-text';

/** Backoff between automatic restarts after crashes: 1 s, 2 s, 4 s, … capped at 30 s. */
export function restartDelayMs(crashesInWindow: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, crashesInWindow - 1));
}
const CRASH_WINDOW_MS = 3 * 60_000;
const MAX_CRASHES_IN_WINDOW = 5;

export class Daemon implements vscode.Disposable {
  private client: LanguageClient | undefined;
  /** Disposables that live as long as one LanguageClient. */
  private clientScope: vscode.Disposable[] = [];
  private crashes: number[] = [];
  private toldAboutCrash = false;
  private disposed = false;
  private streamSeq = 0;
  private readonly streams = new Map<string, (delta: string) => void>();
  private lastStatus: StatusParams | undefined;
  private runState: DaemonRunState = 'stopped';

  private readonly statusEmitter = new vscode.EventEmitter<StatusParams>();
  /** The daemon's status (from moecode/status/didChange and after each start). */
  readonly onDidChangeStatus = this.statusEmitter.event;
  private readonly runStateEmitter = new vscode.EventEmitter<DaemonRunState>();
  readonly onDidChangeRunState = this.runStateEmitter.event;
  /** One output channel for every client generation, so the log survives restarts. */
  readonly outputChannel: vscode.LogOutputChannel;
  /** The remote server's API key (SecretStorage). */
  readonly remoteApiKey: RemoteApiKey;
  private readonly keyWatch: vscode.Disposable;
  /** The secret the API key is sealed with on its way to the daemon (in the daemon's environment only). */
  private readonly keySealSecret = newSealSecret();

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly config: Config,
    private readonly inlineGate: InlineGate,
  ) {
    this.outputChannel = vscode.window.createOutputChannel('MoeCode Daemon', { log: true });
    this.remoteApiKey = new RemoteApiKey(context.secrets);
    this.keyWatch = this.remoteApiKey.onDidChange(() => void this.sendApiKey());
  }

  get status(): StatusParams | undefined {
    return this.lastStatus;
  }
  get state(): DaemonRunState {
    return this.runState;
  }
  /** Process id of the daemon (for the log command and tests); undefined when not running. */
  get pid(): number | undefined {
    const proc = (this.client as unknown as { _serverProcess?: { pid?: number } } | undefined)?._serverProcess;
    return proc?.pid;
  }
  get isRunning(): boolean {
    return this.client?.state === State.Running;
  }

  async start(): Promise<void> {
    if (this.disposed) return;
    this.setRunState('starting');
    if (!existsSync(this.context.asAbsolutePath('dist/daemon.js'))) {
      this.setRunState('failed');
      throw new Error(`the daemon bundle is missing (${this.context.asAbsolutePath('dist/daemon.js')}); reinstall the extension or run \`npm run build\``);
    }
    const client = this.createClient(await this.effectiveApiKey());
    this.client = client;
    try {
      await client.start();
    } catch (e) {
      this.outputChannel.error(`daemon failed to start: ${e instanceof Error ? e.message : String(e)}`);
      if (this.client === client) this.setRunState('failed');
      throw e;
    }
    if (this.client !== client) return;
    this.setRunState('running');
    try {
      this.publishStatus(await client.sendRequest(StatusRequest.type));
    } catch (e) {
      this.outputChannel.warn(`status request failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Stops the daemon process and starts a new one (a fresh client lifetime). */
  async restart(reason: string): Promise<void> {
    this.outputChannel.info(`restarting the daemon: ${reason}`);
    await this.stopClient();
    this.crashes = [];
    await this.start();
  }

  async stop(): Promise<void> {
    await this.stopClient();
    this.setRunState('stopped');
  }

  private async stopClient(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    for (const d of this.clientScope.splice(0)) d.dispose();
    for (const stream of this.streams.keys()) this.streams.delete(stream);
    if (client) {
      try {
        if (client.state !== State.Stopped) await client.stop(5000);
      } catch (e) {
        this.outputChannel.warn(`stopping the daemon: ${e instanceof Error ? e.message : String(e)}`);
      }
      await client.dispose(2000).catch(() => undefined);
    }
  }

  /** A chat answer; `onDelta` gets the text as it is generated. Cancel with `token` (Stop). */
  chat(params: Omit<ChatParams, 'streamId'>, onDelta: (delta: string) => void, token?: vscode.CancellationToken): Promise<GenerationResult> {
    return this.streamed((streamId) => this.requireClient().sendRequest(ChatRequest.type, { ...params, streamId }, token), onDelta);
  }

  explain(params: Omit<ExplainParams, 'streamId'>, onDelta: (delta: string) => void, token?: vscode.CancellationToken): Promise<GenerationResult> {
    return this.streamed((streamId) => this.requireClient().sendRequest(ExplainRequest.type, { ...params, streamId }, token), onDelta);
  }

  async loadModel(path: string | undefined): Promise<StatusParams> {
    const status = await this.requireClient().sendRequest(ModelLoadRequest.type, path ? { path } : {});
    this.publishStatus(status);
    return status;
  }

  /** Stores the remote server's API key (undefined: removes it) and hands it to the running daemon. */
  async setRemoteApiKey(key: string | undefined): Promise<void> {
    await this.remoteApiKey.set(key);
    await this.sendApiKey();
  }

  /** The key the daemon should use: the secret store's, else MOECODE_REMOTE_API_KEY of VS Code's own environment. */
  private async effectiveApiKey(): Promise<string | undefined> {
    return (await this.remoteApiKey.get().catch(() => undefined)) ?? (process.env.MOECODE_REMOTE_API_KEY || undefined);
  }

  /** Tells the daemon the current key (after a change, and after a restart whose environment may be older). */
  private async sendApiKey(): Promise<void> {
    const client = this.client;
    if (!client || client.state !== State.Running) return;
    const apiKey = (await this.effectiveApiKey()) ?? null;
    // sealed: a verbose LSP trace in the output channel shows only ciphertext (api-key-seal.ts)
    const params = apiKey === null ? { apiKey } : { apiKey: null, sealedApiKey: sealApiKey(apiKey, this.keySealSecret) };
    await client.sendNotification(RemoteApiKeyNotification.type, params).catch((e: unknown) => this.outputChannel.warn(`could not send the remote API key: ${e instanceof Error ? e.message : String(e)}`));
  }

  async refreshStatus(): Promise<StatusParams> {
    const status = await this.requireClient().sendRequest(StatusRequest.type);
    this.publishStatus(status);
    return status;
  }

  /** Waits until the client is running (after a start or a crash restart). */
  async whenRunning(timeoutMs = 60_000): Promise<void> {
    if (this.isRunning) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        sub.dispose();
        reject(new Error('the MoeCode daemon did not start in time'));
      }, timeoutMs);
      const sub = this.onDidChangeRunState((s) => {
        if (s === 'running') {
          clearTimeout(timer);
          sub.dispose();
          resolve();
        } else if (s === 'failed') {
          clearTimeout(timer);
          sub.dispose();
          reject(new Error('the MoeCode daemon failed to start; see "MoeCode: Show Daemon Log"'));
        }
      });
    });
  }

  private requireClient(): LanguageClient {
    if (!this.client || this.client.state !== State.Running) {
      throw new Error(this.runState === 'failed' ? 'The MoeCode daemon is not running (it failed; see "MoeCode: Show Daemon Log").' : 'The MoeCode daemon is not running yet.');
    }
    return this.client;
  }

  private async streamed(send: (streamId: string) => Promise<GenerationResult>, onDelta: (delta: string) => void): Promise<GenerationResult> {
    const streamId = `vscode-${process.pid}-${++this.streamSeq}`;
    this.streams.set(streamId, onDelta);
    try {
      return await send(streamId);
    } finally {
      this.streams.delete(streamId);
    }
  }

  private publishStatus(status: StatusParams): void {
    this.lastStatus = status;
    this.statusEmitter.fire(status);
  }

  private setRunState(state: DaemonRunState): void {
    if (this.runState === state) return;
    this.runState = state;
    this.runStateEmitter.fire(state);
  }

  private createClient(remoteApiKey: string | undefined): LanguageClient {
    const module = this.context.asAbsolutePath('dist/daemon.js');
    const env: NodeJS.ProcessEnv = { ...process.env, MOECODE_REMOTE_API_KEY: remoteApiKey ?? '', [KEY_SEAL_ENV]: this.keySealSecret };
    const serverOptions: ServerOptions = {
      run: { module, transport: TransportKind.ipc, options: { env } },
      debug: { module, transport: TransportKind.ipc, options: { env, execArgv: ['--nolazy', '--inspect=6019'] } },
    };
    const clientOptions: LanguageClientOptions = {
      // every text document the daemon may be asked about: inline suggestions, explain ranges
      documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }, { scheme: 'vscode-notebook-cell' }],
      initializationOptions: { [SETTINGS_SECTION]: this.config.daemonSettings() },
      synchronize: { configurationSection: SETTINGS_SECTION },
      outputChannel: this.outputChannel,
      revealOutputChannelOn: RevealOutputChannelOn.Never,
      errorHandler: this.errorHandler(),
      middleware: {
        ...inlineMiddleware(this.inlineGate),
        workspace: {
          // Hand the daemon the section in protocol.ts's shape (exclusions resolved here).
          configuration: async (params, token, next) => {
            const raw = await next(params, token);
            if (!Array.isArray(raw)) return raw;
            return params.items.map((item, i) => {
              if (item.section !== SETTINGS_SECTION) return raw[i];
              const scope = item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined;
              return this.config.daemonSettings(scope);
            });
          },
        },
      },
    };
    const client = new LanguageClient('moecode', 'MoeCode Daemon', serverOptions, clientOptions);
    this.clientScope.push(
      client.onNotification(StatusDidChangeNotification.type, (s) => this.publishStatus(s)),
      client.onNotification(StreamAppendNotification.type, (p) => this.streams.get(String(p.streamId))?.(p.delta)),
      client.onDidChangeState((e) => {
        if (this.client !== client) return;
        if (e.newState !== State.Running) return;
        const wasRestarting = this.runState === 'restarting';
        this.setRunState('running');
        // after a crash the client restarted itself: ask the new process where it stands
        if (wasRestarting) {
          void this.sendApiKey();
          void client.sendRequest(StatusRequest.type).then((s) => this.publishStatus(s), () => undefined);
        }
      }),
    );
    return client;
  }

  private errorHandler(): ErrorHandler {
    return {
      error: (_error, _message, count): ErrorHandlerResult => ({
        action: count !== undefined && count <= 3 ? ErrorAction.Continue : ErrorAction.Shutdown,
        handled: true,
      }),
      closed: async (): Promise<CloseHandlerResult> => {
        if (this.disposed) return { action: CloseAction.DoNotRestart, handled: true };
        const now = Date.now();
        this.crashes = this.crashes.filter((t) => now - t < CRASH_WINDOW_MS);
        this.crashes.push(now);
        this.lastStatus = undefined;
        if (this.crashes.length > MAX_CRASHES_IN_WINDOW) {
          this.setRunState('failed');
          void vscode.window
            .showErrorMessage(`MoeCode: the daemon crashed ${this.crashes.length} times in 3 minutes and was not restarted.`, 'Show Log', 'Restart')
            .then((pick) => {
              if (pick === 'Show Log') this.outputChannel.show();
              if (pick === 'Restart') void this.restart('restart asked after repeated crashes');
            });
          return { action: CloseAction.DoNotRestart, handled: true };
        }
        const delay = restartDelayMs(this.crashes.length);
        this.outputChannel.warn(`the daemon stopped unexpectedly; restarting it in ${delay / 1000} s (crash ${this.crashes.length} in the last 3 minutes)`);
        this.setRunState('restarting');
        if (!this.toldAboutCrash) {
          this.toldAboutCrash = true;
          void vscode.window.showWarningMessage('MoeCode: the daemon stopped unexpectedly and is being restarted.', 'Show Log').then((pick) => {
            if (pick === 'Show Log') this.outputChannel.show();
          });
        }
        await new Promise((r) => setTimeout(r, delay));
        if (this.disposed) return { action: CloseAction.DoNotRestart, handled: true };
        return { action: CloseAction.Restart, handled: true };
      },
    };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.keyWatch.dispose();
    await this.stopClient();
    this.statusEmitter.dispose();
    this.runStateEmitter.dispose();
    this.outputChannel.dispose();
  }
}
