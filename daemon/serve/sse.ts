/**
 * A server-sent-events answer: `data: {json}` events, then `data: [DONE]` for the OpenAI routes. The
 * headers go out with the first event, so a request refused before generating anything (full queue,
 * model gone) still gets its HTTP status; an error after that is sent as a last `data: {"error": …}`
 * event, as OpenAI does (respond.ts).
 */
import type { ServerResponse } from 'node:http';

export class SseStream {
  private started = false;

  constructor(private readonly res: ServerResponse) {}

  /** Whether events were sent (the HTTP status is then 200 whatever happens). */
  get hasStarted(): boolean {
    return this.started;
  }

  /** Whether the client is still there and the stream not ended. */
  get open(): boolean {
    return !this.res.destroyed && !this.res.writableEnded;
  }

  send(data: unknown): void {
    if (!this.open) return;
    this.start();
    this.res.write(`data: ${JSON.stringify(data)}\n\n`);
  }

  /** Ends the stream, with `data: [DONE]` when `done` is set. */
  end(done: boolean): void {
    if (!this.open) return;
    this.start();
    this.res.end(done ? 'data: [DONE]\n\n' : undefined);
  }

  private start(): void {
    if (this.started) return;
    this.started = true;
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache',
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    this.res.flushHeaders();
  }
}
