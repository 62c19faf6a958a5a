/**
 * `moecode/status/get` and `moecode/status/didChange`. Changes of state other than ready ↔ busy (load
 * start, load done, errors) go out at once; load progress, speeds and ready ↔ busy flips are coalesced
 * to at most one notification per 150 ms, always ending with the latest status.
 */
import type { StatusParams } from '../protocol.js';
import { StatusDidChangeNotification, StatusRequest } from '../protocol.js';
import type { Feature, ServerContext } from './feature.js';

const THROTTLE_MS = 150;

export class StatusFeature implements Feature {
  readonly name = 'status';
  private timer: NodeJS.Timeout | undefined;
  private pending: StatusParams | undefined;
  private lastSentAt = 0;
  private enabled = false;

  constructor(private readonly ctx: ServerContext) {
    ctx.connection.onRequest(
      StatusRequest.type,
      ctx.lifecycle.guard0(StatusRequest.method, () => ctx.backend.status),
    );
  }

  initialize(): void {
    this.enabled = true;
  }

  /** Called on every change of the generation backend's status (local model or remote server). */
  publish(status: StatusParams, urgent: boolean): void {
    if (!this.enabled) return;
    this.pending = status;
    const now = Date.now();
    if (urgent || now - this.lastSentAt >= THROTTLE_MS) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => this.flush(), THROTTLE_MS - (now - this.lastSentAt));
  }

  shutdown(): void {
    this.enabled = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const s = this.pending;
    this.pending = undefined;
    if (!s || !this.enabled) return;
    this.lastSentAt = Date.now();
    void this.ctx.connection.sendNotification(StatusDidChangeNotification.type, s).catch(() => undefined);
  }
}
