/**
 * The LSP lifecycle as requests see it: before `initialize` every request fails with
 * ServerNotInitialized, after `shutdown` with InvalidRequest; in between a handler's exceptions become
 * LSP errors (logged) instead of taking the daemon down. Error messages are bounded and escaped
 * (gguf/untrusted-text.ts): they may quote a file.
 */
import { ErrorCodes, ResponseError, type CancellationToken } from 'vscode-languageserver/node';
import { boundedMessage } from '../gguf/untrusted-text.js';
import { toResponseError } from './errors.js';

export type LifecycleState = 'starting' | 'running' | 'shutdown';

export class Lifecycle {
  state: LifecycleState = 'starting';

  constructor(private readonly log: (message: string) => void) {}

  /** Wraps a request handler with the lifecycle checks and error mapping. */
  guard<P, R>(method: string, handler: (params: P, token: CancellationToken) => Promise<R> | R): (params: P, token: CancellationToken) => Promise<R | ResponseError<any>> {
    return async (params, token) => {
      if (this.state === 'starting') return new ResponseError(ErrorCodes.ServerNotInitialized, `${method}: the server is not initialized yet`);
      if (this.state === 'shutdown') return new ResponseError(ErrorCodes.InvalidRequest, `${method}: the server is shutting down`);
      try {
        return await handler(params, token);
      } catch (e) {
        const err = toResponseError(e);
        if (!(e instanceof ResponseError)) this.log(boundedMessage(`${method} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, 8000, true));
        // a message may quote a file (a model's text, a key): bounded, like everything sent about a file
        return new ResponseError(err.code, boundedMessage(err.message), err.data);
      }
    };
  }

  /** guard() for requests without params. */
  guard0<R>(method: string, handler: (token: CancellationToken) => Promise<R> | R): (token: CancellationToken) => Promise<R | ResponseError<any>> {
    const g = this.guard<undefined, R>(method, (_p, token) => handler(token));
    return (token) => g(undefined, token);
  }

  /** Wraps a notification handler: ignored outside running, exceptions logged. */
  guardNotification<P>(method: string, handler: (params: P) => Promise<void> | void): (params: P) => void {
    return (params) => {
      if (this.state !== 'running') return;
      Promise.resolve()
        .then(() => handler(params))
        .catch((e) => this.log(boundedMessage(`${method} failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`, 8000, true)));
    };
  }
}
