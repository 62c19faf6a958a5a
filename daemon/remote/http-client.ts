/**
 * HTTP to one OpenAI-compatible server (Node's fetch): JSON requests and event streams with
 * - a deadline for the response headers and an idle deadline between body pieces (a silent server is
 *   reported unreachable, not waited on forever);
 * - retries with exponential backoff for what may pass (no connection, 502/503/504), never for a 4xx,
 *   never once a streamed body has been handed to the caller, never after the caller aborted;
 * - the caller's AbortSignal closing the connection (the server stops generating);
 * - bounded bodies: JSON answers and single event-stream lines have size limits.
 * The API key is asked for on every request, so a new key applies at once.
 */
import { RemoteHttpError, RemoteProtocolError, RemoteUnauthorizedError, RemoteUnreachableError, RequestAbortedError } from './errors.js';
import { SseParser, type SseEvent } from './sse.js';

export interface RequestPolicy {
  /** Tries in all (1: no retry). */
  attempts: number;
  /** Milliseconds until the response headers must have arrived (connection included). */
  headersTimeoutMs: number;
  /** Most milliseconds between two pieces of a body. */
  idleTimeoutMs: number;
}

/** Largest JSON answer read (a model list, an error body). */
export const MAX_JSON_BYTES = 8 * 1024 * 1024;
/** Bytes of an error body read. */
const MAX_ERROR_BODY_BYTES = 64 * 1024;
/** Characters of an error body kept for the message. */
const ERROR_DETAIL_CHARS = 300;

/** Backoff before retry `n` (1-based): 250 ms, 500 ms, 1 s, … at most 4 s. */
export function retryDelayMs(n: number): number {
  return Math.min(4000, 250 * 2 ** (n - 1));
}

export interface RemoteHttpClientOptions {
  /** The `Authorization: Bearer` key; undefined or '' sends none. */
  apiKey: () => string | undefined;
  /** Backoff before retry n (tests shorten it). */
  retryDelayMs?: (n: number) => number;
}

type Timeout = { kind: 'headers' | 'idle'; ms: number };

export class RemoteHttpClient {
  private readonly base: string;
  private readonly query: string;

  constructor(
    /** e.g. http://gpu-box:30000/v1 (no trailing slash; a query string is kept on every endpoint). */
    readonly baseUrl: string,
    private readonly opts: RemoteHttpClientOptions,
  ) {
    const u = new URL(baseUrl);
    this.base = `${u.origin}${u.pathname.replace(/\/+$/, '')}`;
    this.query = u.search;
  }

  /** `path` under the base URL: endpoint('completions') → …/v1/completions. */
  endpoint(path: string): string {
    return `${this.base}/${path}${this.query}`;
  }

  /** `path` under the server root (the base without a trailing /v1): llama-server's /infill lives there. */
  rootEndpoint(path: string): string {
    return `${this.base.replace(/\/v1$/, '')}/${path}${this.query}`;
  }

  async getJson(url: string, policy: RequestPolicy, signal?: AbortSignal): Promise<unknown> {
    return this.withRetries(policy, signal, async () => {
      const call = this.open(url, { method: 'GET' }, policy, signal);
      try {
        const res = await call.response;
        return await readJson(res, url, call);
      } finally {
        call.close();
      }
    });
  }

  async postJson(url: string, body: unknown, policy: RequestPolicy, signal?: AbortSignal): Promise<unknown> {
    return this.withRetries(policy, signal, async () => {
      const call = this.open(url, { method: 'POST', body: JSON.stringify(body) }, policy, signal);
      try {
        const res = await call.response;
        return await readJson(res, url, call);
      } finally {
        call.close();
      }
    });
  }

  /**
   * POSTs `body` and yields the answer's server-sent events as they arrive. Retries happen only until
   * the response headers are in; stopping the iteration closes the connection.
   */
  async *stream(url: string, body: unknown, policy: RequestPolicy, signal?: AbortSignal): AsyncGenerator<SseEvent> {
    const call = await this.withRetries(policy, signal, async () => {
      const c = this.open(url, { method: 'POST', body: JSON.stringify(body), headers: { Accept: 'text/event-stream' } }, policy, signal);
      try {
        await c.response;
        return c;
      } catch (e) {
        c.close();
        throw e;
      }
    });
    try {
      const res = await call.response;
      if (!res.body) throw new RemoteProtocolError(url, 'the answer has no body');
      const parser = new SseParser();
      const decoder = new TextDecoder();
      for await (const piece of call.read(res.body)) {
        for (const ev of parser.push(decoder.decode(piece, { stream: true }))) yield ev;
      }
      for (const ev of parser.push(decoder.decode())) yield ev;
      for (const ev of parser.end()) yield ev;
    } finally {
      call.close();
    }
  }

  private async withRetries<T>(policy: RequestPolicy, signal: AbortSignal | undefined, attempt: () => Promise<T>): Promise<T> {
    const delay = this.opts.retryDelayMs ?? retryDelayMs;
    for (let n = 1; ; n++) {
      try {
        return await attempt();
      } catch (e) {
        if (signal?.aborted) throw new RequestAbortedError();
        const retryable = (e instanceof RemoteUnreachableError || e instanceof RemoteHttpError) && e.retryable;
        if (!retryable || n >= policy.attempts) throw e;
        await sleep(delay(n), signal);
      }
    }
  }

  /** Starts one request; `response` settles with a 2xx response or a typed error. */
  private open(url: string, init: { method: string; body?: string; headers?: Record<string, string> }, policy: RequestPolicy, signal?: AbortSignal): OpenCall {
    const ac = new AbortController();
    let timedOut: Timeout | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = (t: Timeout) => {
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = t;
        ac.abort();
      }, t.ms);
    };
    const onAbort = () => ac.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    if (signal?.aborted) ac.abort();
    const close = () => {
      if (timer) clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      ac.abort();
    };
    /** Maps a failure of fetch or of reading the body to a typed error. */
    const fail = (e: unknown): Error => {
      if (signal?.aborted) return new RequestAbortedError();
      if (timedOut) {
        // a POST the server accepted but has not answered may be running (a long prefill, busy slots): not sent again
        const retryable = init.method !== 'POST';
        return new RemoteUnreachableError(url, timedOut.kind === 'headers' ? `no answer within ${timedOut.ms / 1000} s` : `no data for ${timedOut.ms / 1000} s`, retryable);
      }
      if (e instanceof RemoteUnauthorizedError || e instanceof RemoteHttpError || e instanceof RemoteProtocolError || e instanceof RemoteUnreachableError) return e;
      return new RemoteUnreachableError(url, socketReason(e));
    };
    const headers: Record<string, string> = { ...init.headers };
    if (init.body !== undefined) headers['Content-Type'] = 'application/json';
    const key = this.opts.apiKey();
    if (key) headers.Authorization = `Bearer ${key}`;
    arm({ kind: 'headers', ms: policy.headersTimeoutMs });
    const response = (async () => {
      let res: Response;
      try {
        res = await fetch(url, { method: init.method, body: init.body, headers, signal: ac.signal });
      } catch (e) {
        throw fail(e);
      }
      arm({ kind: 'idle', ms: policy.idleTimeoutMs });
      if (res.ok) return res;
      const detail = await errorDetail(res).catch(() => '');
      if (res.status === 401 || res.status === 403) throw new RemoteUnauthorizedError(url, res.status, detail);
      throw new RemoteHttpError(url, res.status, detail);
    })();
    response.catch(() => undefined); // the caller awaits it; never an unhandled rejection
    return {
      response,
      close,
      async *read(body: ReadableStream<Uint8Array>) {
        const reader = body.getReader();
        try {
          for (;;) {
            let r: ReadableStreamReadResult<Uint8Array>;
            try {
              r = await reader.read();
            } catch (e) {
              throw fail(e);
            }
            if (r.done) return;
            arm({ kind: 'idle', ms: policy.idleTimeoutMs });
            yield r.value;
          }
        } finally {
          reader.releaseLock();
        }
      },
    };
  }
}

interface OpenCall {
  response: Promise<Response>;
  /** Body pieces as they arrive, with the idle deadline re-armed after each. */
  read(body: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array>;
  close(): void;
}

async function readJson(res: Response, url: string, call: OpenCall): Promise<unknown> {
  if (!res.body) throw new RemoteProtocolError(url, 'the answer has no body');
  const pieces: Uint8Array[] = [];
  let size = 0;
  for await (const piece of call.read(res.body)) {
    size += piece.length;
    if (size > MAX_JSON_BYTES) throw new RemoteProtocolError(url, `the answer is larger than ${MAX_JSON_BYTES} bytes`);
    pieces.push(piece);
  }
  const text = new TextDecoder().decode(Buffer.concat(pieces));
  try {
    return JSON.parse(text);
  } catch {
    throw new RemoteProtocolError(url, `the answer is not JSON: ${text.slice(0, 80)}`);
  }
}

/** At most `max` bytes of a body, as text; the rest is not read. */
async function boundedText(res: Response, max: number): Promise<string> {
  if (!res.body) return '';
  const reader = res.body.getReader();
  const pieces: Uint8Array[] = [];
  let size = 0;
  try {
    while (size < max) {
      const r = await reader.read();
      if (r.done) break;
      pieces.push(r.value);
      size += r.value.length;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
  return new TextDecoder().decode(Buffer.concat(pieces).subarray(0, max));
}

/** The server's words for an HTTP error (OpenAI `{error: {message}}`, FastAPI `{detail}`, or the text). */
async function errorDetail(res: Response): Promise<string> {
  const text = await boundedText(res, MAX_ERROR_BODY_BYTES);
  let detail = text.trim();
  try {
    const j = JSON.parse(text) as Record<string, unknown>;
    const err = j.error;
    if (typeof err === 'string') detail = err;
    else if (err && typeof err === 'object' && typeof (err as Record<string, unknown>).message === 'string') detail = (err as Record<string, string>).message!;
    else if (typeof j.message === 'string') detail = j.message;
    else if (typeof j.detail === 'string') detail = j.detail;
  } catch {
    // not JSON: the text itself
  }
  return detail.length > ERROR_DETAIL_CHARS ? `${detail.slice(0, ERROR_DETAIL_CHARS)}…` : detail;
}

/** ECONNREFUSED, ENOTFOUND, UND_ERR_SOCKET, … from fetch's `cause`, else its message. */
function socketReason(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (cause && typeof cause.code === 'string') return cause.code;
  if (cause && typeof cause.message === 'string') return cause.message;
  return e instanceof Error ? e.message : String(e);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new RequestAbortedError());
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new RequestAbortedError());
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
