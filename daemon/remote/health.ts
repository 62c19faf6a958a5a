/**
 * Whether the remote server can serve, kept current by probing it: at once when configured, again after
 * each failure with backoff (1 s, 2 s, 4 s … 30 s), every 30 s while it is fine, and at once (at most
 * once a second) when a request is about to fail fast because of an outage. Requests report their own
 * connection failures and refused keys here, so the state turns without waiting for the next probe.
 */
import type { RemoteStatus } from '../protocol.js';
import { RemoteUnauthorizedError, RemoteUnreachableError, RequestAbortedError } from './errors.js';

export type HealthState = RemoteStatus['state'];

export interface HealthOptions {
  /** Checks the server; resolves when it can serve, throws a RemoteError saying why not. */
  probe: (signal: AbortSignal) => Promise<void>;
  onChange: () => void;
  /** First retry delay after a failure (doubles each time). */
  minRetryMs?: number;
  maxRetryMs?: number;
  /** Probe period while the server is fine. */
  okIntervalMs?: number;
}

export class RemoteHealth {
  private stateValue: HealthState = 'connecting';
  private messageValue: string | undefined;
  private failures = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private lastProbeAt = 0;
  private disposed = false;
  private readonly ac = new AbortController();
  private readonly minRetryMs: number;
  private readonly maxRetryMs: number;
  private readonly okIntervalMs: number;

  constructor(private readonly opts: HealthOptions) {
    this.minRetryMs = opts.minRetryMs ?? 1000;
    this.maxRetryMs = opts.maxRetryMs ?? 30_000;
    this.okIntervalMs = opts.okIntervalMs ?? 30_000;
  }

  get state(): HealthState {
    return this.stateValue;
  }
  get message(): string | undefined {
    return this.messageValue;
  }

  /** Probes now (or joins the probe running) and resolves when it is done. */
  probeNow(): Promise<void> {
    if (this.disposed) return Promise.resolve();
    this.running ??= this.runProbe().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  /** The server is down as far as a caller knows: probe now unless one ran less than the first retry delay ago. */
  nudge(): void {
    if (Date.now() - this.lastProbeAt >= this.minRetryMs) void this.probeNow();
  }

  /** A request failed; connection failures and refused keys change the state at once. */
  reportFailure(e: unknown): void {
    if (e instanceof RequestAbortedError) return;
    if (e instanceof RemoteUnreachableError || e instanceof RemoteUnauthorizedError) {
      this.fail(e);
      this.schedule();
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.ac.abort();
  }

  private async runProbe(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastProbeAt = Date.now();
    try {
      await this.opts.probe(this.ac.signal);
      if (this.disposed) return;
      this.failures = 0;
      this.set('ok', undefined);
    } catch (e) {
      if (this.disposed) return;
      this.fail(e);
    }
    this.schedule();
  }

  private fail(e: unknown): void {
    this.failures++;
    const message = e instanceof Error ? e.message : String(e);
    const state: HealthState = e instanceof RemoteUnreachableError ? 'unreachable' : e instanceof RemoteUnauthorizedError ? 'unauthorized' : 'error';
    this.set(state, message);
  }

  private schedule(): void {
    if (this.disposed) return;
    if (this.timer) clearTimeout(this.timer);
    const delay = this.stateValue === 'ok' ? this.okIntervalMs : Math.min(this.maxRetryMs, this.minRetryMs * 2 ** Math.max(0, this.failures - 1));
    this.timer = setTimeout(() => void this.probeNow(), delay);
    this.timer.unref?.();
  }

  private set(state: HealthState, message: string | undefined): void {
    if (state === this.stateValue && message === this.messageValue) return;
    this.stateValue = state;
    this.messageValue = message;
    this.opts.onChange();
  }
}
