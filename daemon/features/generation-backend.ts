/**
 * Which engine generates: the local model (through the scheduler) or, when `moecode.remote.url` is
 * set, an OpenAI-compatible server (daemon/remote). The features ask `current()` per request and take
 * the branch it names; nothing else in them knows about remote servers.
 * - Switching needs no restart: a URL set unloads the local model and starts probing the server; a URL
 *   cleared drops the server and loads the local model again.
 * - The status is the local model's, or with a server its health: ready/busy when it answers, loading
 *   while connecting, error when unreachable, refusing the key or unusable (`remote` says which).
 * - The API key: MOECODE_REMOTE_API_KEY from the daemon's environment, until the editor sends one
 *   (RemoteApiKeyNotification; null: none).
 */
import type { Engine } from '../engine/engine.js';
import type { DaemonState, FimTemplateSetting, MoecodeSettings, StatusParams } from '../protocol.js';
import { RemoteServer, type RemoteServerOptions } from '../remote/remote-server.js';
import { requestFailed } from './errors.js';
import type { ModelManager } from './model-manager.js';

export type Backend = { kind: 'local'; engine: Engine } | { kind: 'remote'; server: RemoteServer };

export interface GenerationBackendOptions {
  model: ModelManager;
  /** Sends a status (the status feature throttles). */
  publish: (status: StatusParams, urgent: boolean) => void;
  /** The remote server was switched on, off or to another URL/model: drop what was computed with the old one. */
  backendChanged: () => void;
  log: (message: string) => void;
  /** Overrides for the remote client (tests). */
  remote?: Pick<RemoteServerOptions, 'retryDelayMs' | 'health'>;
}

export class GenerationBackend {
  private remote: RemoteServer | undefined;
  private remoteKey = '';
  private fimTemplate: FimTemplateSetting = 'auto';
  /** The key the editor sent (null: none); undefined until it sends one. */
  private editorApiKey: string | null | undefined;
  private lastPublishedState: DaemonState | undefined;

  constructor(private readonly opts: GenerationBackendOptions) {}

  /** The backend for a request now; without a server, the local engine or the RequestFailed saying why there is none. */
  current(): Backend {
    if (this.remote) return { kind: 'remote', server: this.remote };
    return { kind: 'local', engine: this.opts.model.requireEngine() };
  }

  /** Refuses (RequestFailed remoteActive) while a server is configured: no local model may load then. */
  requireLocal(): void {
    if (this.remote) throw requestFailed('remoteActive', `moecode.remote.url is set (${this.remote.url}): generation goes to that server; clear the setting to load a local model`);
  }

  get status(): StatusParams {
    const server = this.remote;
    if (!server) return this.opts.model.status;
    const r = server.status(this.fimTemplate);
    const state: DaemonState = r.state === 'ok' ? (server.busy ? 'busy' : 'ready') : r.state === 'connecting' ? 'loading' : 'error';
    return {
      state,
      progress: r.state === 'ok' ? 100 : 0,
      modelName: r.model,
      modelPath: '',
      adapter: '',
      backend: '',
      threads: 0,
      isSoftwareFallback: false,
      lastPrefillTokPerSec: server.lastPrefillTokPerSec,
      lastDecodeTokPerSec: server.lastDecodeTokPerSec,
      ...(r.state !== 'ok' && r.message ? { message: r.message } : {}),
      remote: r,
    };
  }

  /**
   * Follows the settings: with `remote.url` the server (re)configured and the local model unloaded,
   * without it the local model loaded when it is not already. Resolves when the local model is settled.
   */
  async apply(settings: MoecodeSettings): Promise<void> {
    const url = settings.remote.url.trim();
    const templateChanged = settings.remote.fimTemplate !== this.fimTemplate;
    this.fimTemplate = settings.remote.fimTemplate;
    if (url) {
      const key = JSON.stringify([url, settings.remote.model]);
      if (key !== this.remoteKey) {
        this.remote?.dispose();
        const server = new RemoteServer({ url, model: settings.remote.model }, { apiKey: () => this.apiKey(), onChange: () => this.publishRemote(server, false), log: this.opts.log, ...this.opts.remote });
        this.remote = server;
        this.remoteKey = key;
        this.opts.log(`using the remote server ${server.url}${settings.remote.model ? ` (model ${settings.remote.model})` : ''}; no local model is loaded`);
        this.opts.backendChanged();
        this.publishRemote(server, true);
        server.start();
      } else if (templateChanged && this.remote) {
        this.publishRemote(this.remote, true);
      }
      if (this.opts.model.status.state !== 'unloaded') await this.opts.model.unload('moecode.remote.url is set: the remote server generates');
      return;
    }
    if (this.remote) {
      this.opts.log(`moecode.remote.url was cleared: back to the local model`);
      this.remote.dispose();
      this.remote = undefined;
      this.remoteKey = '';
      this.opts.backendChanged();
      // a load about to start sends its own status; otherwise the model's as it stands
      if (!this.opts.model.needsReload(settings)) this.opts.publish(this.opts.model.status, true);
    }
    if (this.opts.model.needsReload(settings)) {
      this.opts.log('model settings changed: loading');
      await this.opts.model.load(settings).catch(() => undefined); // the status says why
    }
  }

  /** The model manager's status changed: it is the daemon's status unless a server is in use. */
  localStatusChanged(status: StatusParams, urgent: boolean): void {
    if (!this.remote) this.opts.publish(status, urgent);
  }

  /** The editor's key, from now on instead of the environment's (null or '': none). */
  setApiKey(key: string | null): void {
    this.editorApiKey = key || null;
    this.remote?.apiKeyChanged();
  }

  dispose(): void {
    this.remote?.dispose();
    this.remote = undefined;
  }

  private apiKey(): string | undefined {
    if (this.editorApiKey !== undefined) return this.editorApiKey ?? undefined;
    return process.env.MOECODE_REMOTE_API_KEY || undefined;
  }

  private publishRemote(server: RemoteServer, urgent: boolean): void {
    if (server !== this.remote) return;
    const status = this.status;
    const was = this.lastPublishedState;
    this.lastPublishedState = status.state;
    // like the model manager: only ready ↔ busy flips and speeds wait for the throttle
    const flip = (was === 'ready' || was === 'busy') && (status.state === 'ready' || status.state === 'busy');
    this.opts.publish(status, urgent || (was !== status.state && !flip));
  }
}
