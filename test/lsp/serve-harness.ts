/**
 * Starts `moecode serve` as a real child process (`node --import tsx daemon/cli/main.ts serve`, or the
 * bundle with MOECODE_LSP_DAEMON=dist) on a free port (`--port 0`; the readiness line says which) and
 * speaks raw HTTP to it: requests with any headers and bodies, server-sent events read as they come.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { REPO } from './daemon-harness.js';

/** The model shipped in models/: tiny and fast, with FIM tokens (SPM order) and a ChatML template. */
export const SHIPPED_MODEL = join(REPO, 'models', 'moecode-coder.gguf');

export interface ServeProcess {
  /** `http://127.0.0.1:PORT`, from the readiness line. */
  url: string;
  child: ChildProcessWithoutNullStreams;
  /** Everything written to stdout and stderr so far. */
  stdout(): string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then the exit status. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function serveCommand(): { command: string; args: string[] } {
  if (process.env.MOECODE_LSP_DAEMON === 'dist') {
    if (!existsSync(join(REPO, 'dist', 'cli.js'))) throw new Error('dist/cli.js is missing: run npm run build');
    return { command: process.execPath, args: [join(REPO, 'bin', 'moecode.js'), 'serve'] };
  }
  return { command: process.execPath, args: ['--import', 'tsx', join(REPO, 'daemon', 'cli', 'main.ts'), 'serve'] };
}

/** Spawns `moecode serve ARGS` and resolves once it printed `listening on URL` (rejects if it exits first). */
export function startServe(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 60_000): Promise<ServeProcess> {
  const { command, args: base } = serveCommand();
  const child = spawn(command, [...base, ...args], { cwd: REPO, env: { ...process.env, MOECODE_API_KEY: '', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8');
  child.stderr.setEncoding('utf8').on('data', (s: string) => (err += s));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const proc = (url: string): ServeProcess => ({
    url,
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`moecode serve printed no readiness line in ${timeoutMs} ms; stderr:\n${err}`));
    }, timeoutMs);
    child.stdout.on('data', (s: string) => {
      out += s;
      const m = /^listening on (http:\/\/\S+)\n/m.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(proc(m[1]!));
      }
    });
    void exited.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(Object.assign(new Error(`moecode serve exited (${code ?? signal}) before listening; stderr:\n${err}`), { code, stdout: out, stderr: err }));
    });
  });
}

export interface HttpResult {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json<T = any>(): T;
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  /** A string or object (sent as JSON) or raw bytes. */
  body?: unknown;
  /** Called with the request and response as soon as the headers arrive (to read a stream). */
  onResponse?: (res: IncomingMessage) => void;
}

/** One HTTP request; resolves with the whole answer. */
export function http(url: string, path: string, opts: RequestOptions = {}): Promise<HttpResult> {
  const body = opts.body === undefined ? undefined : typeof opts.body === 'string' || Buffer.isBuffer(opts.body) ? opts.body : JSON.stringify(opts.body);
  const headers: Record<string, string> = { ...(body !== undefined && typeof opts.body === 'object' && !Buffer.isBuffer(opts.body) ? { 'Content-Type': 'application/json' } : {}), ...opts.headers };
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method: opts.method ?? (body === undefined ? 'GET' : 'POST'), headers, agent: false }, (res) => {
      opts.onResponse?.(res);
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (s: string) => (text += s));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json: () => JSON.parse(text) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The `data:` payloads of a server-sent-events text, in order. */
export function sseData(text: string): string[] {
  return text
    .split('\n\n')
    .filter((e) => e.trim() !== '')
    .map((e) => {
      const line = e.split('\n').find((l) => l.startsWith('data: '));
      if (line === undefined) throw new Error(`an event without a data line: ${JSON.stringify(e)}`);
      return line.slice('data: '.length);
    });
}

/**
 * A streaming POST that is abandoned: resolves with the request once the first `data:` event arrives,
 * so the caller can destroy it (a client that disconnects).
 */
export function startStream(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ destroy(): void; firstEvent: string }> {
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (s) => (text += s));
        res.on('end', () => reject(new Error(`status ${res.statusCode}: ${text}`)));
        return;
      }
      res.setEncoding('utf8');
      let text = '';
      res.on('data', (s: string) => {
        text += s;
        if (text.includes('\n\n')) resolve({ destroy: () => req.destroy(), firstEvent: text.slice(0, text.indexOf('\n\n')) });
      });
      res.on('error', () => undefined);
    });
    req.on('error', () => undefined);
    req.end(JSON.stringify(body));
  });
}

/** Polls `check` every 50 ms until it returns a value (not undefined); fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Waits until GET /health answers 200. */
export function whenHealthy(url: string, timeoutMs = 120_000): Promise<true> {
  return eventually(async () => ((await http(url, '/health')).status === 200 ? true : undefined), 'GET /health to answer 200', timeoutMs);
}

export interface ServeStatus {
  model: { id: string; state: string };
  scheduler: {
    queued: { completion: number; chat: number };
    running: number;
    counters: { preemptions: number; cancelled: number; refused: number; completed: number };
    last: { kind: string; stop_reason: string; prompt_tokens: number; generated_tokens: number } | null;
  };
}

export async function serveStatus(url: string, headers: Record<string, string> = {}): Promise<ServeStatus> {
  const r = await http(url, '/status', { headers });
  if (r.status !== 200) throw new Error(`GET /status: ${r.status} ${r.text}`);
  return r.json<ServeStatus>();
}
