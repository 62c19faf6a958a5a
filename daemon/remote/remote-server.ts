/**
 * One configured remote server: its HTTP client, its health (probed through `GET /v1/models`, which
 * also names the model when the setting leaves it empty), and the two things the daemon asks of it —
 * inline completions and streamed chat answers. During an outage completions answer nothing at once
 * (and nudge the probe), chat fails with the reason; both recover when the probe does.
 */
import type { FimTemplateSetting, GenerationResult, RemoteStatus } from '../protocol.js';
import { normalizeBaseUrl } from './base-url.js';
import { RemoteConfigError, RemoteError, RemoteHttpError, RemoteProtocolError, RemoteQueueFullError, RequestAbortedError } from './errors.js';
import { fimFamilyFor } from './fim-families.js';
import { RemoteHealth, type HealthOptions } from './health.js';
import { RemoteHttpClient, type RequestPolicy } from './http-client.js';
import { parseModelList } from './model-list.js';
import { streamChat, type RemoteChatRequest } from './remote-chat.js';
import { completionRequest, streamCompletion, type FimRoute, type RemoteCompletionRequest, type RemoteCompletionResult } from './remote-completion.js';

export interface RemoteServerConfig {
  /** The setting as given (normalised here). */
  url: string;
  /** Model id; '' = the first one the server lists. */
  model: string;
}

export interface RemoteServerOptions {
  apiKey: () => string | undefined;
  /** Status fields changed (health, model, busy, speeds). */
  onChange: () => void;
  log: (message: string) => void;
  /** Backoff before HTTP retries (tests shorten it). */
  retryDelayMs?: (n: number) => number;
  health?: Pick<HealthOptions, 'minRetryMs' | 'maxRetryMs' | 'okIntervalMs'>;
}

export const PROBE_POLICY: RequestPolicy = { attempts: 1, headersTimeoutMs: 5_000, idleTimeoutMs: 5_000 };
export const COMPLETION_POLICY: RequestPolicy = { attempts: 2, headersTimeoutMs: 5_000, idleTimeoutMs: 5_000 };
export const CHAT_POLICY: RequestPolicy = { attempts: 3, headersTimeoutMs: 30_000, idleTimeoutMs: 120_000 };
/** Chat-class requests in flight at once; more are refused (queueFull). */
export const MAX_REMOTE_CHATS = 4;

export class RemoteServer {
  readonly url: string;
  readonly configuredModel: string;
  private readonly client: RemoteHttpClient | undefined;
  private readonly configError: RemoteConfigError | undefined;
  private readonly health: RemoteHealth | undefined;
  private lastProbeError: unknown;
  private servedModel = '';
  private contextTokens: number | undefined;
  /** Whether `/infill` answers (llama-server); undefined until tried. */
  private infill: boolean | undefined;
  private lastRoute: FimRoute['kind'] | undefined;
  private lastFamily = '';
  private chats = 0;
  private busyCount = 0;
  private lastLogged = '';
  lastPrefillTokPerSec = 0;
  lastDecodeTokPerSec = 0;

  constructor(
    config: RemoteServerConfig,
    private readonly opts: RemoteServerOptions,
  ) {
    this.configuredModel = config.model;
    let url = config.url.trim();
    try {
      url = normalizeBaseUrl(url);
    } catch (e) {
      this.configError = e as RemoteConfigError;
    }
    this.url = url;
    if (this.configError) return;
    this.client = new RemoteHttpClient(url, { apiKey: opts.apiKey, retryDelayMs: opts.retryDelayMs });
    this.health = new RemoteHealth({ probe: (signal) => this.probe(signal), onChange: () => opts.onChange(), ...opts.health });
  }

  start(): void {
    void this.health?.probeNow();
  }

  get busy(): boolean {
    return this.busyCount > 0;
  }

  /** Tokens of context the server reports for the model, when it does. */
  get contextLength(): number | undefined {
    return this.contextTokens;
  }

  status(fimTemplate: FimTemplateSetting): RemoteStatus {
    if (this.configError || !this.health) return { url: this.url, state: 'error', model: '', fim: '', message: this.configError?.message };
    const model = this.servedModel || this.configuredModel;
    const family = fimFamilyFor(fimTemplate, model);
    const fim = family ? family.id : this.infill === true ? 'infill' : this.infill === false ? 'suffix' : '';
    const message = this.health.message ?? (this.health.state === 'connecting' ? `connecting to ${this.url}` : undefined);
    return { url: this.url, state: this.health.state, model, fim, ...(message ? { message } : {}) };
  }

  /** The key changed: probe again at once (an unauthorized state may clear). */
  apiKeyChanged(): void {
    void this.health?.probeNow();
  }

  /**
   * An inline completion, or undefined when the server cannot give one now (outage, refused key,
   * error answer: the status says why, the log has details).
   */
  async complete(req: RemoteCompletionRequest, fimTemplate: FimTemplateSetting): Promise<RemoteCompletionResult | undefined> {
    const { client, health } = this.ready();
    if (health.state === 'connecting') await health.probeNow();
    if (health.state !== 'ok') {
      health.nudge();
      return undefined;
    }
    const family = fimFamilyFor(fimTemplate, this.servedModel);
    let route: FimRoute = family ? { kind: 'family', family } : this.infill === false ? { kind: 'suffix' } : { kind: 'infill' };
    this.noteRoute(route, family?.id ?? '');
    this.setBusy(+1);
    try {
      for (;;) {
        try {
          const r = await streamCompletion(client, completionRequest(client, route, this.servedModel, req), req, COMPLETION_POLICY);
          if (route.kind === 'infill' && this.infill !== true) this.setInfill(true);
          return r;
        } catch (e) {
          // a server without llama-server's /infill: ask /v1/completions with `suffix` from now on
          if (route.kind === 'infill' && e instanceof RemoteHttpError && (e.status === 404 || e.status === 405 || e.status === 501)) {
            this.setInfill(false);
            route = { kind: 'suffix' };
            this.noteRoute(route, '');
            continue;
          }
          throw e;
        }
      }
    } catch (e) {
      if (e instanceof RequestAbortedError) return { text: '', stopReason: 'cancelled' };
      this.failed('completion', e);
      return undefined;
    } finally {
      this.setBusy(-1);
    }
  }

  /** A streamed chat answer; throws a RemoteError when the server cannot give one. */
  async chat(req: RemoteChatRequest): Promise<GenerationResult> {
    const { client, health } = this.ready();
    if (health.state !== 'ok') await health.probeNow();
    if (health.state !== 'ok') throw this.lastProbeError instanceof Error ? this.lastProbeError : new RemoteProtocolError(this.url, health.message ?? 'not ready');
    if (this.chats >= MAX_REMOTE_CHATS) throw new RemoteQueueFullError(MAX_REMOTE_CHATS);
    this.chats++;
    this.setBusy(+1);
    try {
      const r = await streamChat(client, this.servedModel, req, CHAT_POLICY);
      this.recordSpeeds(r);
      return r;
    } catch (e) {
      this.failed('chat', e);
      throw e;
    } finally {
      this.chats--;
      this.setBusy(-1);
    }
  }

  dispose(): void {
    this.health?.dispose();
  }

  private ready(): { client: RemoteHttpClient; health: RemoteHealth } {
    if (this.configError || !this.client || !this.health) throw this.configError ?? new RemoteConfigError('moecode.remote.url is not usable');
    return { client: this.client, health: this.health };
  }

  private async probe(signal: AbortSignal): Promise<void> {
    const client = this.client!;
    try {
      const models = parseModelList(await client.getJson(client.endpoint('models'), PROBE_POLICY, signal), this.url);
      const wanted = this.configuredModel;
      const chosen = wanted ? models.find((m) => m.id === wanted) : models[0];
      if (!chosen) {
        const listed = models.slice(0, 5).map((m) => m.id).join(', ');
        throw new RemoteProtocolError(
          this.url,
          wanted ? `the server does not serve "${wanted}" (it lists: ${listed || 'nothing'}); check moecode.remote.model` : 'the server lists no models; set moecode.remote.model',
        );
      }
      if (chosen.id !== this.servedModel) this.opts.log(`remote ${this.url}: using model ${chosen.id}${chosen.contextLength ? ` (${chosen.contextLength} tokens of context)` : ''}`);
      this.servedModel = chosen.id;
      this.contextTokens = chosen.contextLength;
      this.lastProbeError = undefined;
    } catch (e) {
      this.lastProbeError = e;
      throw e;
    }
  }

  private failed(what: string, e: unknown): void {
    this.health?.reportFailure(e);
    const message = `remote ${what} failed: ${e instanceof Error ? e.message : String(e)}`;
    // one line per kind of failure, not one per keystroke
    if (message !== this.lastLogged) this.opts.log(message);
    this.lastLogged = message;
    if (!(e instanceof RemoteError)) this.opts.log(e instanceof Error && e.stack ? e.stack : String(e));
  }

  private noteRoute(route: FimRoute, family: string): void {
    if (route.kind === this.lastRoute && family === this.lastFamily) return;
    this.lastRoute = route.kind;
    this.lastFamily = family;
    const how = route.kind === 'family' ? `the ${route.family.label} FIM template on /v1/completions` : route.kind === 'infill' ? "llama-server's /infill" : '/v1/completions with `suffix`';
    this.opts.log(`remote ${this.url}: inline completions use ${how}`);
  }

  private setInfill(available: boolean): void {
    this.infill = available;
    this.opts.onChange();
  }

  private setBusy(delta: number): void {
    const was = this.busyCount > 0;
    this.busyCount += delta;
    if (was !== this.busyCount > 0) this.opts.onChange();
  }

  private recordSpeeds(r: GenerationResult): void {
    if (r.promptTokens > 0 && r.prefillMs > 0) this.lastPrefillTokPerSec = Math.round((r.promptTokens * 10_000) / r.prefillMs) / 10;
    if (r.generatedTokens > 1 && r.decodeMs > 0) this.lastDecodeTokPerSec = Math.round(((r.generatedTokens - 1) * 10_000) / r.decodeMs) / 10;
  }
}
