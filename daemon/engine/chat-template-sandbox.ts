/**
 * Chat templates run outside the daemon's process. A GGUF's `tokenizer.chat_template` is a program
 * read from a file: a loop can run for minutes, and a large range() or list can exhaust V8's heap,
 * which aborts the whole process. A worker thread's `resourceLimits` do not prevent that (tried here
 * with Node 20: a worker whose template built a 10^8-element range() took the process down with
 * "FATAL ERROR: Reached heap limit" — one allocation past the limit is fatal for every thread).
 *
 * So templates render in a child process (chat-template-renderer.ts) with a heap limit. One render
 * runs at a time, with a time limit; a render that runs over, or a child that dies, is killed and
 * answered with a TemplateSandboxError, and the next render starts a new child. The child stays up
 * between renders and keeps compiled templates, so a normal render costs one IPC round trip.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { RenderJob, RendererMessage, RenderReply } from './chat-template-renderer.js';

export type SandboxFailure =
  /** The template does not parse. */
  | 'parse'
  /** The template raised an error while rendering. */
  | 'render'
  /** It ran past the time limit. */
  | 'time'
  /** Its process died (out of memory, or killed). */
  | 'memory'
  /** It wrote more text than allowed. */
  | 'output'
  /** The renderer process could not be started. */
  | 'unavailable';

export class TemplateSandboxError extends Error {
  override readonly name = 'TemplateSandboxError';
  constructor(
    message: string,
    readonly failure: SandboxFailure,
  ) {
    super(message);
  }
}

export interface SandboxOptions {
  /** Heap limit of the renderer process, MB (default 256). */
  heapMb?: number;
  /** How long the renderer may take to start, ms (default 30 s: a loaded machine, TypeScript sources). */
  startTimeoutMs?: number;
}

export interface RenderLimits {
  timeoutMs: number;
  maxOutputChars: number;
}

interface Pending {
  template: string;
  context: Record<string, unknown>;
  limits: RenderLimits;
  resolve: (text: string) => void;
  reject: (e: TemplateSandboxError) => void;
}

interface Running extends Pending {
  id: number;
  child: ChildProcess;
  timer: NodeJS.Timeout;
}

/** How to start the renderer: the bundled dist/chat-template-renderer.js, or the TypeScript source through tsx. */
function rendererEntry(): { path: string; execArgv: string[]; cwd?: string } {
  if (__filename.endsWith('.ts')) {
    // the repository root, where `--import tsx` resolves
    return { path: join(__dirname, 'chat-template-renderer.ts'), execArgv: ['--import', 'tsx'], cwd: join(__dirname, '..', '..') };
  }
  return { path: join(__dirname, 'chat-template-renderer.js'), execArgv: [] };
}

export class TemplateSandbox {
  private child: ChildProcess | undefined;
  private starting: Promise<ChildProcess> | undefined;
  private readonly queue: Pending[] = [];
  /** A job is being started or rendered (one at a time). */
  private busy = false;
  private running: Running | undefined;
  private nextId = 1;
  private stderrHead = '';
  private readonly heapMb: number;
  private readonly startTimeoutMs: number;
  /** Renderer processes started so far (tests check that a killed one is replaced). */
  starts = 0;

  constructor(opts: SandboxOptions = {}) {
    this.heapMb = opts.heapMb ?? 256;
    this.startTimeoutMs = opts.startTimeoutMs ?? 30_000;
  }

  /** Renders `template` with `context` in the renderer process, within `limits`. */
  render(template: string, context: Record<string, unknown>, limits: RenderLimits): Promise<string> {
    return new Promise((resolve, reject) => {
      this.queue.push({ template, context, limits, resolve, reject });
      void this.next();
    });
  }

  /** Stops the renderer process (a later render starts a new one). */
  dispose(): void {
    this.kill();
  }

  private async next(): Promise<void> {
    if (this.busy || this.queue.length === 0) return;
    this.busy = true;
    const job = this.queue.shift()!;
    let child: ChildProcess;
    try {
      child = await this.ensureChild();
    } catch (e) {
      this.busy = false;
      job.reject(e instanceof TemplateSandboxError ? e : new TemplateSandboxError(String(e), 'unavailable'));
      void this.next();
      return;
    }
    const id = this.nextId++;
    const timer = setTimeout(() => this.finish(id, new TemplateSandboxError(`did not finish in ${seconds(job.limits.timeoutMs)}`, 'time')), job.limits.timeoutMs);
    this.running = { ...job, id, child, timer };
    // a render in flight keeps the process alive; an idle renderer does not
    child.channel?.ref();
    const message: RenderJob = { id, template: job.template, context: job.context, maxOutputChars: job.limits.maxOutputChars };
    child.send(message, (err) => {
      if (err) this.finish(id, new TemplateSandboxError(`could not reach the template renderer: ${err.message}`, 'unavailable'));
    });
  }

  /** Settles the running job `id` with a reply or a failure; after a timeout the child is killed. */
  private finish(id: number, outcome: RenderReply | TemplateSandboxError): void {
    const job = this.running;
    if (!job || job.id !== id) return;
    clearTimeout(job.timer);
    this.running = undefined;
    this.busy = false;
    if (outcome instanceof TemplateSandboxError) {
      if (outcome.failure === 'time' || outcome.failure === 'unavailable') this.kill();
      job.reject(outcome);
    } else if (outcome.ok) job.resolve(outcome.text);
    else job.reject(new TemplateSandboxError(outcome.message, outcome.phase));
    this.child?.channel?.unref();
    void this.next();
  }

  private ensureChild(): Promise<ChildProcess> {
    if (this.child) return Promise.resolve(this.child);
    this.starting ??= this.start().finally(() => (this.starting = undefined));
    return this.starting;
  }

  private start(): Promise<ChildProcess> {
    const entry = rendererEntry();
    if (!existsSync(entry.path)) {
      return Promise.reject(new TemplateSandboxError(`the template renderer ${entry.path} is missing (run npm run build)`, 'unavailable'));
    }
    this.starts++;
    this.stderrHead = '';
    const child = fork(entry.path, [], {
      cwd: entry.cwd,
      execArgv: [...entry.execArgv, `--max-old-space-size=${this.heapMb}`],
      env: { ...process.env, MOECODE_TEMPLATE_RENDERER: '1' },
      // never the parent's stdout: for the daemon that is the LSP stream
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    // the first few KB: V8's fatal-error line comes before a long native stack
    child.stderr?.on('data', (d: Buffer) => {
      if (this.stderrHead.length < 4000) this.stderrHead = (this.stderrHead + d.toString()).slice(0, 4000);
    });
    return new Promise<ChildProcess>((resolve, reject) => {
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(new TemplateSandboxError(`the template renderer ${why}`, 'unavailable'));
      };
      const timer = setTimeout(() => fail(`did not start in ${seconds(this.startTimeoutMs)}`), this.startTimeoutMs);
      const onEarlyExit = (code: number | null, signal: NodeJS.Signals | null) => fail(`exited at start (${signal ?? `exit code ${code}`}): ${this.stderrHead.trim().slice(0, 300)}`);
      child.once('exit', onEarlyExit);
      child.once('error', (e) => fail(`could not start: ${e.message}`));
      child.on('message', (m: RendererMessage) => {
        if (!('ready' in m)) return this.finish(m.id, m);
        clearTimeout(timer);
        child.off('exit', onEarlyExit);
        // 'close', not 'exit': by then its stderr (which says why it died) has been read
        child.on('close', (code, signal) => this.exited(child, code, signal));
        this.child = child;
        child.unref();
        child.channel?.unref();
        (child.stderr as { unref?: () => void } | null)?.unref?.();
        resolve(child);
      });
    });
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child === child) this.child = undefined;
    const job = this.running;
    if (job && job.child === child) {
      const oom = /heap out of memory|Reached heap limit|Allocation failed/i.test(this.stderrHead);
      const said = /^(?:#\s*)?(?:FATAL ERROR|Fatal)[^\n]*/im.exec(this.stderrHead)?.[0].slice(0, 200);
      const why = oom ? `ran out of memory (limit ${this.heapMb} MB)` : `ended its process (${signal ?? `exit code ${code}`}${said ? `: ${said}` : ''})`;
      this.finish(job.id, new TemplateSandboxError(why, 'memory'));
    }
  }

  private kill(): void {
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

let shared: TemplateSandbox | undefined;

/** The process-wide sandbox every chat render goes through. */
export function templateSandbox(): TemplateSandbox {
  return (shared ??= new TemplateSandbox());
}
