/**
 * A stand-in for an OpenAI-compatible inference server: real HTTP on 127.0.0.1 that answers
 * `/v1/models`, `/v1/completions`, `/v1/chat/completions` (streamed or not) and, as llama-server,
 * `/infill`, with the text a test scripts. Each dialect replays the stream quirks its server is
 * documented to have (issues and PRs of vLLM, SGLang and llama.cpp):
 *   vllm          first chat chunk carries only the role (`content: ""`); the finish reason comes in a
 *                 chunk of its own with empty content and `stop_reason`; with include_usage a last chunk
 *                 with `choices: []`; `/infill` is 404; `suffix` is refused with 400.
 *   sglang        every chunk has `usage: null`, deltas repeat `role` (null after the first) and
 *                 `reasoning_content: null`; the finish chunk has `content: null` and `matched_stop`; then a
 *                 usage chunk with `choices: []`; `suffix` is accepted.
 *   llama-server  the first chat delta is `{role: "assistant", content: null}`; the finish chunk has an
 *                 empty delta and `timings`; usage in a last chunk with `choices: []`; `/infill` streams
 *                 llama.cpp's own format (`content`, `stop: true` on the last one, no `[DONE]`).
 * All send `data: [DONE]` on the OpenAI endpoints and 401 with their own error body for a bad key.
 * A test can make the next requests fail (connection reset, an HTTP status), stop the server and
 * start it again on the same port, and read every request received and whether the client hung up
 * before the answer was complete.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export type Dialect = 'vllm' | 'sglang' | 'llama-server';

export interface ModelEntry {
  id: string;
  contextLength?: number;
}

export interface RecordedRequest {
  method: string;
  /** Path without the query, e.g. /v1/chat/completions. */
  path: string;
  authorization: string | undefined;
  body: any;
  /** How it ended: answered in full, refused (error status or reset), or the client closed the connection first. */
  outcome: 'pending' | 'complete' | 'failed' | 'client-closed';
}

export type Failure = { kind: 'reset' } | { kind: 'status'; status: number; body?: unknown };

export interface StandInOptions {
  dialect: Dialect;
  models: ModelEntry[];
  /** Required `Authorization: Bearer` key; undefined: none needed. */
  apiKey?: string;
  /** Pieces of the answer to a completion-class request (/v1/completions, /infill). */
  completion?: (req: RecordedRequest) => string[];
  /** Pieces of the answer to a chat request. */
  chat?: (req: RecordedRequest) => string[];
  /** Milliseconds between streamed pieces. */
  pieceDelayMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class OpenAiStandIn {
  readonly requests: RecordedRequest[] = [];
  apiKey: string | undefined;
  /** End chat streams right after their content, with no finish reason and no `[DONE]` (a proxy closing them mid-answer). */
  cutChatStreams = false;
  completion: (req: RecordedRequest) => string[];
  chat: (req: RecordedRequest) => string[];
  pieceDelayMs: number;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly failures: { path: string; failure: Failure }[] = [];
  private portValue = 0;
  private seq = 0;

  constructor(readonly opts: StandInOptions) {
    this.apiKey = opts.apiKey;
    this.completion = opts.completion ?? (() => ['ok']);
    this.chat = opts.chat ?? (() => ['Hello', ' from', ' the', ' stand-in.']);
    this.pieceDelayMs = opts.pieceDelayMs ?? 2;
  }

  get port(): number {
    return this.portValue;
  }

  /** The base URL a client is given, e.g. http://127.0.0.1:40123/v1. */
  get url(): string {
    return `http://127.0.0.1:${this.portValue}/v1`;
  }

  /** Listens on `port` (0: any free port; later starts reuse the first one). */
  async start(port = this.portValue): Promise<void> {
    const server = createServer((req, res) => void this.handle(req, res));
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.portValue = (server.address() as AddressInfo).port;
  }

  /** Stops listening and drops every connection (an outage). */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** The next `count` requests to `path` fail this way. */
  failNext(path: string, count: number, failure: Failure): void {
    for (let i = 0; i < count; i++) this.failures.push({ path, failure });
  }

  /** Requests received on `path`. */
  received(path: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0]!;
    const raw = await readBody(req);
    let body: any;
    try {
      body = raw ? JSON.parse(raw) : undefined;
    } catch {
      body = raw;
    }
    const rec: RecordedRequest = { method: req.method ?? 'GET', path, authorization: req.headers.authorization, body, outcome: 'pending' };
    this.requests.push(rec);
    res.on('close', () => {
      if (rec.outcome === 'pending') rec.outcome = res.writableFinished ? 'complete' : 'client-closed';
    });

    const f = this.failures.findIndex((x) => x.path === path);
    if (f >= 0) {
      const { failure } = this.failures.splice(f, 1)[0]!;
      rec.outcome = 'failed';
      if (failure.kind === 'reset') req.socket.destroy();
      else this.json(res, failure.status, failure.body ?? { error: { message: `scripted ${failure.status}`, code: failure.status } });
      return;
    }
    if (this.apiKey !== undefined && req.headers.authorization !== `Bearer ${this.apiKey}`) {
      rec.outcome = 'failed';
      this.json(res, 401, this.unauthorizedBody());
      return;
    }
    if (req.method === 'GET' && path === '/v1/models') return this.json(res, 200, this.modelList());
    if (req.method === 'GET' && (path === '/health' || path === '/v1/health')) return this.json(res, 200, { status: 'ok' });
    if (req.method === 'POST' && path === '/v1/chat/completions') return this.chatCompletion(res, rec);
    if (req.method === 'POST' && path === '/v1/completions') return this.textCompletion(res, rec);
    if (req.method === 'POST' && path === '/infill' && this.opts.dialect === 'llama-server') return this.infill(res, rec);
    rec.outcome = 'failed';
    this.json(res, 404, this.opts.dialect === 'llama-server' ? { error: { code: 404, message: 'File Not Found', type: 'not_found_error' } } : { detail: 'Not Found' });
  }

  private unauthorizedBody(): unknown {
    switch (this.opts.dialect) {
      case 'vllm':
        return { error: 'Unauthorized' };
      case 'sglang':
        return { error: 'Unauthorized' };
      case 'llama-server':
        return { error: { code: 401, message: 'Invalid API Key', type: 'authentication_error' } };
    }
  }

  private modelList(): unknown {
    const data = this.opts.models.map((m) => {
      switch (this.opts.dialect) {
        case 'vllm':
          return { id: m.id, object: 'model', created: 1700000000, owned_by: 'vllm', root: m.id, parent: null, max_model_len: m.contextLength };
        case 'sglang':
          return { id: m.id, object: 'model', created: 1700000000, owned_by: 'sglang', root: m.id, max_model_len: m.contextLength };
        case 'llama-server':
          return { id: m.id, object: 'model', created: 1700000000, owned_by: 'llamacpp', meta: { n_ctx_train: m.contextLength, n_vocab: 32000 } };
      }
    });
    return { object: 'list', data };
  }

  private json(res: ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  }

  /** Writes one event, split into two writes in the middle of its JSON (a client must join pieces). */
  private async event(res: ServerResponse, data: unknown): Promise<boolean> {
    if (res.destroyed) return false;
    const text = `data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
    const cut = Math.floor(text.length / 2);
    res.write(text.slice(0, cut));
    await sleep(0);
    if (res.destroyed) return false;
    res.write(text.slice(cut));
    await sleep(this.pieceDelayMs);
    return !res.destroyed;
  }

  /** `data: [DONE]` and the end of the answer, in one write. */
  private done(res: ServerResponse): void {
    if (!res.destroyed) res.end('data: [DONE]\n\n');
  }

  private startStream(res: ServerResponse): void {
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache', Connection: 'keep-alive' });
    // a comment line first, as servers send to keep proxies from buffering
    res.write(': ping\n\n');
  }

  private async chatCompletion(res: ServerResponse, rec: RecordedRequest): Promise<void> {
    const pieces = this.chat(rec);
    const id = `chatcmpl-${++this.seq}`;
    const base = { id, object: 'chat.completion.chunk', created: 1700000000, model: rec.body?.model ?? '' };
    const usage = { prompt_tokens: 20, completion_tokens: pieces.length, total_tokens: 20 + pieces.length };
    const wantUsage = rec.body?.stream_options?.include_usage === true;
    if (rec.body?.stream !== true) {
      this.json(res, 200, { ...base, object: 'chat.completion', choices: [{ index: 0, message: { role: 'assistant', content: pieces.join('') }, finish_reason: 'stop' }], usage });
      return;
    }
    this.startStream(res);
    const d = this.opts.dialect;
    const chunk = (delta: unknown, finish: string | null, extra: Record<string, unknown> = {}) => {
      if (d === 'vllm') return { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, ...extra }] };
      if (d === 'sglang') return { ...base, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish, matched_stop: finish ? 151643 : null, ...extra }], usage: null };
      return { ...base, choices: [{ index: 0, delta, finish_reason: finish }], ...extra };
    };
    // the role-only first chunk
    const first = d === 'vllm' ? { role: 'assistant', content: '' } : d === 'sglang' ? { role: 'assistant', content: '', reasoning_content: null, tool_calls: null } : { role: 'assistant', content: null };
    if (!(await this.event(res, chunk(first, null)))) return;
    for (const p of pieces) {
      const delta = d === 'sglang' ? { role: null, content: p, reasoning_content: null, tool_calls: null } : { content: p };
      if (!(await this.event(res, chunk(delta, null)))) return;
      // an empty delta between tokens (a token that decodes to nothing yet)
      if (d === 'vllm' && !(await this.event(res, chunk({ content: '' }, null)))) return;
    }
    if (this.cutChatStreams) {
      res.end();
      return;
    }
    const finishDelta = d === 'vllm' ? { content: '' } : d === 'sglang' ? { role: null, content: null, reasoning_content: null, tool_calls: null } : {};
    const finishExtra = d === 'vllm' ? { stop_reason: null } : d === 'llama-server' ? { timings: { prompt_n: 20, prompt_ms: 10, predicted_n: pieces.length, predicted_ms: 20 } } : {};
    if (!(await this.event(res, chunk(finishDelta, 'stop', finishExtra)))) return;
    if (wantUsage || d === 'llama-server') {
      if (!(await this.event(res, { ...base, choices: [], usage }))) return;
    }
    this.done(res);
  }

  private async textCompletion(res: ServerResponse, rec: RecordedRequest): Promise<void> {
    const d = this.opts.dialect;
    if (rec.body?.suffix !== undefined && d === 'vllm') {
      rec.outcome = 'failed';
      this.json(res, 400, { object: 'error', message: 'suffix is not currently supported', type: 'BadRequestError', param: null, code: 400 });
      return;
    }
    const pieces = this.completion(rec);
    const id = `cmpl-${++this.seq}`;
    const base = { id, object: 'text_completion', created: 1700000000, model: rec.body?.model ?? '' };
    if (rec.body?.stream !== true) {
      this.json(res, 200, { ...base, choices: [{ index: 0, text: pieces.join(''), logprobs: null, finish_reason: 'stop' }] });
      return;
    }
    this.startStream(res);
    const choice = (text: string, finish: string | null) =>
      d === 'vllm' ? { index: 0, text, logprobs: null, finish_reason: finish, stop_reason: null } : d === 'sglang' ? { index: 0, text, logprobs: null, finish_reason: finish, matched_stop: null } : { text, index: 0, logprobs: null, finish_reason: finish };
    for (const p of pieces) if (!(await this.event(res, { ...base, choices: [choice(p, null)], ...(d === 'sglang' ? { usage: null } : {}) }))) return;
    if (!(await this.event(res, { ...base, choices: [choice('', 'stop')] }))) return;
    this.done(res);
  }

  /** llama-server's /infill: its own event format, no [DONE]. */
  private async infill(res: ServerResponse, rec: RecordedRequest): Promise<void> {
    const pieces = this.completion(rec);
    if (rec.body?.stream !== true) {
      this.json(res, 200, { content: pieces.join(''), stop: true, stop_type: 'eos', tokens_predicted: pieces.length, tokens_evaluated: 20 });
      return;
    }
    this.startStream(res);
    for (const p of pieces) if (!(await this.event(res, { index: 0, content: p, stop: false, id_slot: 0, tokens_predicted: 1 }))) return;
    if (!res.destroyed) res.end(`data: ${JSON.stringify({ index: 0, content: '', stop: true, stop_type: 'eos', tokens_predicted: pieces.length, tokens_evaluated: 20, timings: { predicted_n: pieces.length } })}\n\n`);
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
