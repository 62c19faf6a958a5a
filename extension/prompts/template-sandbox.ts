/**
 * Renders prompt templates in a separate Node process with a time limit, a heap limit and an output limit, so
 * that no template from a file (a loop of a billion turns, `range(1000000000) | length`, a list doubled forty
 * times) runs unbounded on the extension host:
 *  - time: a request past `timeoutMs` kills the process;
 *  - memory: the process runs with `--max-old-space-size=<maxHeapMb>`; V8 ends it at that heap;
 *  - output: the process refuses a result past `maxOutputChars` before sending it;
 *  - range(): the engine's own builds its whole list first; the worker's refuses more than MAX_RANGE_ITEMS.
 * The caller gets a TemplateLimitError and the next request starts a fresh process.
 *
 * Why a process and not a worker thread with `resourceLimits`: in Node 20 a worker that grows one array or
 * string fast can abort the whole process with "Reached heap limit" instead of being terminated (nodejs/node
 * #47224; seen here with a list doubled in a loop), and a host started with --max-old-space-size overrides the
 * worker's limit (nodejs/node #43991). A crashed child process costs only itself.
 *
 * One process per heap size is kept between requests (a check as the user types costs a message, not a process
 * start) and ended after a minute without work; requests run one at a time. No `vscode` import: unit-tested in
 * plain Node. In VS Code's desktop extension host `fork` runs the host's own executable as Node, as it does for
 * the daemon (vscode-languageclient's ipc transport).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { RenderRequest, RenderResponse, TemplateOutcome } from './template-worker-protocol';

export type { TemplateOutcome } from './template-worker-protocol';

export interface TemplateLimits {
  /** Wall-clock time for one request, from the moment the worker process is ready (ms). */
  timeoutMs: number;
  /** The worker process's V8 heap (old generation, MB). */
  maxHeapMb: number;
  /** Characters of output, all templates of a request together. */
  maxOutputChars: number;
}

/** For checking a prompt file with sample values: tiny inputs, so anything big is the template's own doing. */
export const CHECK_LIMITS: Readonly<TemplateLimits> = { timeoutMs: 2_000, maxHeapMb: 64, maxOutputChars: 256 * 1024 };
/**
 * For a real run: the inputs include the selection and perhaps the whole file. 2 M characters is far more
 * than any model context the daemon runs.
 */
export const RENDER_LIMITS: Readonly<TemplateLimits> = { timeoutMs: 5_000, maxHeapMb: 256, maxOutputChars: 2 * 1024 * 1024 };

/** How long a worker process may take to start and load the template engine before the request fails. */
const WORKER_START_TIMEOUT_MS = 15_000;
/** A worker process with nothing to do for this long is ended (the next request starts one again). */
const WORKER_IDLE_MS = 60_000;

/**
 * Which limit was reached: time, the worker's heap, the output's size, a size the engine allows (V8's longest
 * string or array, the stack, range()'s MAX_RANGE_ITEMS), or the worker process failed.
 */
export type TemplateLimitKind = 'timeout' | 'memory' | 'output' | 'engine' | 'worker';

export class TemplateLimitError extends Error {
  override readonly name = 'TemplateLimitError';
  constructor(
    readonly kind: TemplateLimitKind,
    readonly limits: Readonly<TemplateLimits>,
    detail?: string,
  ) {
    super(describeLimit(kind, limits, detail));
  }
}

function describeLimit(kind: TemplateLimitKind, limits: Readonly<TemplateLimits>, detail?: string): string {
  switch (kind) {
    case 'timeout':
      return `rendering took longer than ${limits.timeoutMs / 1000} s and was stopped`;
    case 'memory':
      return `rendering needed more than ${limits.maxHeapMb} MB of memory and was stopped`;
    case 'output':
      return `the rendered text is longer than ${limits.maxOutputChars.toLocaleString('en')} characters${detail ? ` (${detail})` : ''}`;
    case 'engine':
      return `rendering went past a size limit${detail ? `: ${detail}` : ''}`;
    case 'worker':
      return `the template worker failed${detail ? `: ${detail}` : ''}`;
  }
}

/** What V8 prints when it ends a process for its heap (or an array or string past V8's maximum size). */
const OUT_OF_MEMORY = /heap out of memory|Reached heap limit|invalid (?:array|string|table) (?:length|size)|invalid size error/i;

interface Slot {
  child: ChildProcess;
  ready: Promise<void>;
  /** The last lines the process wrote to stderr (V8's fatal errors land there). */
  stderr: string;
  exited: boolean;
  idle?: ReturnType<typeof setTimeout>;
}

export class TemplateSandbox {
  private readonly slots = new Map<number, Slot>();
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private disposed = false;

  /** `workerScript`: the bundled worker (dist/prompt-template-worker.js; see TEMPLATE_WORKER_BUNDLE). */
  constructor(private readonly workerScript: string) {}

  /**
   * Renders each template with `values`. Resolves with one outcome per template (a template that throws is an
   * outcome, not a rejection); rejects with TemplateLimitError when a limit is reached.
   */
  render(templates: readonly string[], values: Readonly<Record<string, string>>, limits: Readonly<TemplateLimits> = RENDER_LIMITS): Promise<TemplateOutcome[]> {
    const run = this.queue.then(() => this.run([...templates], { ...values }, limits));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Ends every worker process; later renders fail. */
  dispose(): void {
    this.disposed = true;
    for (const heap of [...this.slots.keys()]) this.drop(heap);
  }

  private async run(templates: string[], values: Record<string, string>, limits: Readonly<TemplateLimits>): Promise<TemplateOutcome[]> {
    if (this.disposed) throw new TemplateLimitError('worker', limits, 'the template sandbox was disposed');
    const slot = this.slot(limits);
    if (slot.idle) clearTimeout(slot.idle);
    await slot.ready;
    const id = this.nextId++;
    const request: RenderRequest = { id, templates, values, maxOutputChars: limits.maxOutputChars };
    const outcomes = await new Promise<TemplateOutcome[]>((resolve, reject) => {
      const fail = (error: TemplateLimitError): void => {
        done();
        this.drop(limits.maxHeapMb, slot);
        reject(error);
      };
      const onMessage = (response: RenderResponse): void => {
        if (response.id !== id) return;
        done();
        if (response.kind === 'too-large') {
          reject(new TemplateLimitError('output', limits, `it reached ${response.chars.toLocaleString('en')}`));
          return;
        }
        if (response.kind !== 'rendered') return;
        const exhausted = response.outcomes.find((o): o is Extract<TemplateOutcome, { ok: false }> => !o.ok && o.exhausted === true);
        if (exhausted) reject(new TemplateLimitError('engine', limits, exhausted.message));
        else resolve(response.outcomes);
      };
      // 'close' comes after the last of stderr, so V8's out-of-memory report can be told from any other end
      const onClose = (code: number | null, signal: NodeJS.Signals | null): void =>
        fail(OUT_OF_MEMORY.test(slot.stderr) ? new TemplateLimitError('memory', limits) : new TemplateLimitError('worker', limits, `it ended (${signal ?? `exit code ${code}`}) ${slot.stderr.trim().split('\n').slice(-1)[0] ?? ''}`.trim()));
      const timer = setTimeout(() => fail(new TemplateLimitError('timeout', limits)), limits.timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        slot.child.off('message', onMessage);
        slot.child.off('close', onClose);
      };
      slot.child.on('message', onMessage);
      slot.child.on('close', onClose);
      slot.child.send(request, (e) => {
        if (e) fail(new TemplateLimitError('worker', limits, e.message));
      });
    });
    if (this.slots.get(limits.maxHeapMb) === slot) {
      slot.idle = setTimeout(() => this.drop(limits.maxHeapMb, slot), WORKER_IDLE_MS);
      slot.idle.unref();
    }
    return outcomes;
  }

  private slot(limits: Readonly<TemplateLimits>): Slot {
    const heapMb = limits.maxHeapMb;
    const existing = this.slots.get(heapMb);
    if (existing && !existing.exited) return existing;
    const child = fork(this.workerScript, [], {
      // only the heap limit: not the host's flags (--import loaders, inspector ports, its own heap size)
      execArgv: [`--max-old-space-size=${heapMb}`],
      // ELECTRON_RUN_AS_NODE: in desktop VS Code the host's executable is Electron's (as vscode-languageclient does)
      env: { ...process.env, NODE_OPTIONS: '', ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const slot: Slot = { child, stderr: '', exited: false, ready: Promise.resolve() };
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (slot.stderr = (slot.stderr + chunk).slice(-4000)));
    child.on('error', () => undefined); // reported through 'close' or the start timeout
    child.on('exit', () => (slot.exited = true));
    slot.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TemplateLimitError('worker', limits, `it did not start within ${WORKER_START_TIMEOUT_MS / 1000} s`)), WORKER_START_TIMEOUT_MS);
      const onMessage = (m: RenderResponse): void => {
        if (m.kind !== 'ready') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        reject(new TemplateLimitError('worker', limits, `it ended before it was ready (${signal ?? `exit code ${code}`}) ${slot.stderr.trim().split('\n').slice(-1)[0] ?? ''}`.trim()));
      });
    });
    slot.ready.catch(() => this.drop(heapMb, slot));
    // the host may exit with an idle worker around; the worker exits when its channel closes
    child.unref();
    child.channel?.unref();
    this.slots.set(heapMb, slot);
    return slot;
  }

  /** Ends a worker process (the given one, or whichever serves this heap size); the next request starts a new one. */
  private drop(heapMb: number, only?: Slot): void {
    const slot = this.slots.get(heapMb);
    if (!slot || (only && slot !== only)) return;
    this.slots.delete(heapMb);
    if (slot.idle) clearTimeout(slot.idle);
    if (!slot.exited) slot.child.kill('SIGKILL');
  }
}

/** Where the bundled worker is, relative to the extension's root folder (esbuild.mjs builds it). */
export const TEMPLATE_WORKER_BUNDLE = 'dist/prompt-template-worker.js';
