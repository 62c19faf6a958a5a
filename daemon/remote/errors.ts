/**
 * What can go wrong talking to a remote server, as types (callers branch on the class, never on the
 * message). `retryable` says whether sending the same request again may help: a connection that could
 * not be made or a gateway that was not ready, never a 4xx.
 */

export abstract class RemoteError extends Error {
  abstract readonly retryable: boolean;
}

/** No connection: refused, reset before an answer, DNS failure, or no response headers in time. */
export class RemoteUnreachableError extends RemoteError {
  constructor(
    readonly url: string,
    /** The socket-level reason, e.g. ECONNREFUSED, or 'timeout'. */
    readonly reason: string,
    /** False when the server may have taken the request (a POST with no answer in time): sending it again could run it twice. */
    readonly retryable = true,
  ) {
    super(`${url} is unreachable (${reason})`);
    this.name = 'RemoteUnreachableError';
  }
}

/** The server answered 401 or 403: the API key is missing or refused. */
export class RemoteUnauthorizedError extends RemoteError {
  readonly retryable = false;
  constructor(
    readonly url: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${url} refused the API key (HTTP ${status}${detail ? `: ${detail}` : ''})`);
    this.name = 'RemoteUnauthorizedError';
  }
}

/** The server answered with another HTTP error; 502/503/504 (a proxy or a server still starting) may be retried. */
export class RemoteHttpError extends RemoteError {
  readonly retryable: boolean;
  constructor(
    readonly url: string,
    readonly status: number,
    readonly detail: string,
  ) {
    super(`${url} answered HTTP ${status}${detail ? `: ${detail}` : ''}`);
    this.name = 'RemoteHttpError';
    this.retryable = status === 502 || status === 503 || status === 504;
  }
}

/** The answer was not what an OpenAI-compatible server sends (bad JSON, an error event mid-stream, a stream cut short). */
export class RemoteProtocolError extends RemoteError {
  readonly retryable = false;
  constructor(
    readonly url: string,
    detail: string,
  ) {
    super(`${url}: ${detail}`);
    this.name = 'RemoteProtocolError';
  }
}

/**
 * A streamed answer ended with neither a finish reason nor `[DONE]` (nor llama-server's `stop: true`):
 * the connection was closed mid-answer, so what arrived is not the whole answer. Asking again may work.
 */
export class StreamCutError extends RemoteError {
  readonly retryable = true;
  constructor(
    readonly url: string,
    readonly receivedChars: number,
  ) {
    super(`${url}: the answer stream ended after ${receivedChars} characters without a finish reason or [DONE]; the server or a proxy closed it before the answer was complete`);
    this.name = 'StreamCutError';
  }
}

/** The configured URL is not an http(s) URL. */
export class RemoteConfigError extends RemoteError {
  readonly retryable = false;
  constructor(message: string) {
    super(message);
    this.name = 'RemoteConfigError';
  }
}

/** The caller gave up (cancelled or superseded request, or a stop rule ended the stream); not the server's fault. */
export class RequestAbortedError extends Error {
  constructor() {
    super('request aborted');
    this.name = 'RequestAbortedError';
  }
}

/** Too many chat-class requests are running on the server already; nothing was sent. */
export class RemoteQueueFullError extends Error {
  constructor(limit: number) {
    super(`${limit} chat requests are already running on the remote server`);
    this.name = 'RemoteQueueFullError';
  }
}
