/**
 * A plain JSON-RPC 2.0 client over a child process's stdio with LSP's Content-Length framing, written
 * from the spec the way Neovim's client speaks it (no vscode-jsonrpc), so the tests see exactly the
 * bytes the daemon writes. It records notifications, answers the server's own requests
 * (workspace/configuration, client/registerCapability) and waits for messages with timeouts, never
 * with sleeps.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

export interface RpcError {
  code: number;
  message: string;
  data?: unknown;
}

export type RpcResponse = { id: number; result: unknown; error?: undefined } | { id: number; result?: undefined; error: RpcError };

export interface Notification {
  method: string;
  params: unknown;
  at: number;
}

type ServerRequestHandler = (params: unknown) => unknown;

interface Waiter {
  match: (n: Notification) => boolean;
  resolve: (n: Notification) => void;
}

export class JsonRpcClient {
  readonly notifications: Notification[] = [];
  private buffer = Buffer.alloc(0);
  private nextId = 1;
  private readonly pending = new Map<number, (r: RpcResponse) => void>();
  private readonly handlers = new Map<string, ServerRequestHandler>();
  private waiters: Waiter[] = [];
  private stderrText = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Bytes on stdout that were not a well-formed message (must stay empty: stdout is the protocol). */
  garbage = '';
  /** Responses whose id matches no request of ours (id null: the server's answer to a message it could not read). */
  readonly orphanResponses: { id: unknown; result?: unknown; error?: RpcError }[] = [];
  private orphanWaiters: (() => void)[] = [];

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (chunk: Buffer) => this.onData(chunk));
    child.stderr.on('data', (chunk: Buffer) => {
      this.stderrText += chunk.toString('utf8');
      if (this.stderrText.length > 200_000) this.stderrText = this.stderrText.slice(-100_000);
    });
    this.exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    this.exited.then(() => {
      for (const [id, cb] of this.pending) cb({ id, error: { code: -1, message: 'the server exited' } });
      this.pending.clear();
    });
    this.handlers.set('client/registerCapability', () => null);
    this.handlers.set('client/unregisterCapability', () => null);
    this.handlers.set('window/workDoneProgress/create', () => null);
  }

  static spawn(command: string, args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string): JsonRpcClient {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    return new JsonRpcClient(child);
  }

  get stderr(): string {
    return this.stderrText;
  }

  /** Answers the server's requests for `method`. */
  onServerRequest(method: string, handler: ServerRequestHandler): void {
    this.handlers.set(method, handler);
  }

  /** Sends a request; `id` is returned at once so the test can cancel it. */
  request(method: string, params?: unknown): { id: number; response: Promise<RpcResponse> } {
    const id = this.nextId++;
    const response = new Promise<RpcResponse>((resolve) => this.pending.set(id, resolve));
    this.send(params === undefined ? { jsonrpc: '2.0', id, method } : { jsonrpc: '2.0', id, method, params });
    return { id, response };
  }

  /** Sends a request and returns its result, throwing on an error response. */
  async call<T = unknown>(method: string, params?: unknown): Promise<T> {
    const r = await this.request(method, params).response;
    if (r.error) throw Object.assign(new Error(`${method}: ${r.error.message} (${r.error.code})`), { rpc: r.error });
    return r.result as T;
  }

  notify(method: string, params?: unknown): void {
    this.send(params === undefined ? { jsonrpc: '2.0', method } : { jsonrpc: '2.0', method, params });
  }

  cancel(id: number): void {
    this.notify('$/cancelRequest', { id });
  }

  /** Sends raw bytes (for malformed-message tests). */
  sendRaw(body: string): void {
    this.child.stdin.write(`Content-Length: ${Buffer.byteLength(body, 'utf8')}\r\n\r\n${body}`);
  }

  /** Writes bytes to the server's stdin as they are, headers and all (for framing tests). */
  writeBytes(bytes: string | Buffer): void {
    this.child.stdin.write(bytes);
  }

  /** The orphan response number `index` (0-based), already received or coming, within `timeoutMs`. */
  waitForOrphanResponse(index: number, timeoutMs = 10_000): Promise<{ id: unknown; result?: unknown; error?: RpcError }> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const r = this.orphanResponses[index];
        if (!r) return false;
        clearTimeout(timer);
        this.orphanWaiters = this.orphanWaiters.filter((w) => w !== waiter);
        resolve(r);
        return true;
      };
      const waiter = () => void check();
      const timer = setTimeout(() => {
        this.orphanWaiters = this.orphanWaiters.filter((w) => w !== waiter);
        reject(new Error(`no response #${index} without a matching id within ${timeoutMs} ms; stderr tail:\n${this.stderrText.slice(-2000)}`));
      }, timeoutMs);
      if (!check()) this.orphanWaiters.push(waiter);
    });
  }

  /** The first notification (already received or coming) matching, within `timeoutMs`. */
  waitForNotification(method: string, match: (params: any) => boolean = () => true, timeoutMs = 60_000, since = 0): Promise<Notification> {
    const test = (n: Notification) => n.method === method && match(n.params);
    const found = this.notifications.slice(since).find(test);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { match: test, resolve: (n) => (clearTimeout(timer), resolve(n)) };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`no ${method} notification within ${timeoutMs} ms; stderr tail:\n${this.stderrText.slice(-2000)}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  logMessages(): string[] {
    return this.notifications.filter((n) => n.method === 'window/logMessage').map((n) => (n.params as { message: string }).message);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  private send(msg: unknown): void {
    const body = JSON.stringify(msg);
    this.child.stdin.write(`Content-Length: ${Buffer.byteLength(body, 'utf8')}\r\n\r\n${body}`);
  }

  private onData(chunk: Buffer): void {
    this.buffer = Buffer.concat([this.buffer, chunk]);
    while (true) {
      const headerEnd = this.buffer.indexOf('\r\n\r\n');
      if (headerEnd < 0) return;
      const header = this.buffer.subarray(0, headerEnd).toString('ascii');
      const m = /Content-Length: (\d+)/i.exec(header);
      if (!m || !/^(Content-(Length|Type): [^\r\n]*\r?\n?)+$/i.test(header + '\n')) {
        this.garbage += header;
        this.buffer = this.buffer.subarray(headerEnd + 4);
        continue;
      }
      const len = Number(m[1]);
      if (this.buffer.length < headerEnd + 4 + len) return;
      const body = this.buffer.subarray(headerEnd + 4, headerEnd + 4 + len).toString('utf8');
      this.buffer = this.buffer.subarray(headerEnd + 4 + len);
      this.dispatch(JSON.parse(body));
    }
  }

  private dispatch(msg: { id?: number | string; method?: string; params?: unknown; result?: unknown; error?: RpcError }): void {
    if (msg.method !== undefined && msg.id !== undefined) {
      const handler = this.handlers.get(msg.method);
      if (handler) {
        Promise.resolve()
          .then(() => handler(msg.params))
          .then(
            (result) => this.send({ jsonrpc: '2.0', id: msg.id, result: result ?? null }),
            (e) => this.send({ jsonrpc: '2.0', id: msg.id, error: { code: -32603, message: String(e) } }),
          );
      } else this.send({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: `client does not handle ${msg.method}` } });
      return;
    }
    if (msg.method !== undefined) {
      const n: Notification = { method: msg.method, params: msg.params, at: performance.now() };
      this.notifications.push(n);
      const hit = this.waiters.filter((w) => w.match(n));
      this.waiters = this.waiters.filter((w) => !w.match(n));
      for (const w of hit) w.resolve(n);
      return;
    }
    const cb = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (cb) {
      this.pending.delete(msg.id as number);
      cb(msg.error ? { id: msg.id as number, error: msg.error } : { id: msg.id as number, result: msg.result });
      return;
    }
    this.orphanResponses.push({ id: msg.id ?? null, result: msg.result, error: msg.error });
    for (const w of [...this.orphanWaiters]) w();
  }
}
