/**
 * Every Jinja template from a file renders here: a GGUF's chat template in the daemon and the CLI, a prompt
 * file's template on the extension host. A template is a program: a loop can run for minutes, and a list
 * doubled forty times exhausts V8's heap, which aborts the whole process. So templates render in a separate
 * Node process (template-renderer.ts) with limits:
 *  - time: a request past `timeoutMs` kills the process;
 *  - memory: the process runs with `--max-old-space-size=<maxHeapMb>`; V8 ends it at that heap;
 *  - output: the renderer refuses a result past `maxOutputChars` before sending it;
 *  - range(): the renderer's refuses more than MAX_RANGE_ITEMS items (bounded-range.ts).
 * The caller gets a TemplateLimitError and the next request starts a fresh process.
 *
 * Why a process and not a worker thread with `resourceLimits`: in Node 20 a worker that grows one array or
 * string fast can abort the whole process with "Reached heap limit" instead of being terminated (nodejs/node
 * #47224; seen here with a 10^8-element range()), and a host started with --max-old-space-size overrides the
 * worker's limit (nodejs/node #43991). A crashed child process costs only itself.
 *
 * One process per heap size is kept between requests (a render costs one IPC round trip, not a process start,
 * and compiled templates are kept) and ended after `idleMs` without work; requests run one at a time, in order.
 * No `vscode` import. In VS Code's desktop extension host `fork` runs the host's own executable as Node
 * (ELECTRON_RUN_AS_NODE), as vscode-languageclient does for the daemon.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { RENDERER_ENV, type RenderRequest, type RenderResponse, type TemplateOutcome } from './template-protocol.js';

export type { TemplateOutcome } from './template-protocol.js';

export interface TemplateLimits {
  /** Wall-clock time for one request, from the moment the renderer process is ready (ms). */
  timeoutMs: number;
  /** The renderer process's V8 heap (old generation, MB). */
  maxHeapMb: number;
  /** Characters of output, all templates of a request together. */
  maxOutputChars: number;
}

/**
 * Which limit was reached: time, the renderer's heap, the output's size, a size the engine allows (V8's longest
 * string or array, the stack, range()'s MAX_RANGE_ITEMS), or the renderer process failed.
 */
export type TemplateLimitKind = 'timeout' | 'memory' | 'output' | 'engine' | 'worker';

export class TemplateLimitError extends Error {
  override readonly name = 'TemplateLimitError';
  constructor(
    readonly kind: TemplateLimitKind,
    readonly limits: Readonly<TemplateLimits>,
    /** For 'output': how long the text got; for 'engine' and 'worker': what happened. */
    readonly detail?: string,
  ) {
    super(describeLimit(kind, limits, detail));
  }
}

function describeLimit(kind: TemplateLimitKind, limits: Readonly<TemplateLimits>, detail?: string): string {
  switch (kind) {
    case 'timeout':
      return `rendering took longer than ${seconds(limits.timeoutMs)} and was stopped`;
    case 'memory':
      return `rendering needed more than ${limits.maxHeapMb} MB of memory and was stopped`;
    case 'output':
      return `the rendered text is longer than ${limits.maxOutputChars.toLocaleString('en')} characters${detail ? ` (${detail})` : ''}`;
    case 'engine':
      return `rendering went past a size limit${detail ? `: ${detail}` : ''}`;
    case 'worker':
      return `the template renderer failed${detail ? `: ${detail}` : ''}`;
  }
}

export function seconds(ms: number): string {
  const s = ms / 1000;
  return `${Number.isInteger(s) ? s : s.toFixed(1)} s`;
}

/** Where the bundled renderer is, next to the bundle that starts it (esbuild.mjs builds it). */
export const TEMPLATE_RENDERER_BUNDLE = 'dist/template-renderer.js';

/** What V8 prints when it ends a process for its heap (or an array or string past V8's maximum size). */
const OUT_OF_MEMORY = /heap out of memory|Reached heap limit|invalid (?:array|string|table) (?:length|size)|invalid size error|Allocation failed/i;

export interface SandboxOptions {
  /** The bundled renderer to start. Default: template-renderer.js next to this bundle, or its TypeScript source through tsx. */
  script?: string;
  /** How long a renderer may take to start and load the engine before the request fails (ms, default 30 s). */
  startTimeoutMs?: number;
  /** A renderer with nothing to do for this long is ended; the next request starts one again (ms, default 60 s). */
  idleMs?: number;
}

interface Slot {
  child: ChildProcess;
  ready: Promise<void>;
  /** The last lines the process wrote to stderr (V8's fatal errors land there). */
  stderr: string;
  exited: boolean;
  idle?: ReturnType<typeof setTimeout>;
}

interface Entry {
  script: string;
  execArgv: string[];
  cwd?: string;
}

/** How to start the renderer: the given bundle, the bundled one next to this file, or the TypeScript source through tsx. */
function rendererEntry(script: string | undefined): Entry {
  if (script) return { script, execArgv: [] };
  if (__filename.endsWith('.ts')) {
    // from source (tests): the repository root, where `--import tsx` resolves
    return { script: join(__dirname, 'template-renderer.ts'), execArgv: ['--import', 'tsx'], cwd: join(__dirname, '..', '..') };
  }
  return { script: join(__dirname, 'template-renderer.js'), execArgv: [] };
}

export class TemplateSandbox {
  private readonly slots = new Map<number, Slot>();
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  private disposed = false;
  private readonly entry: Entry;
  private readonly startTimeoutMs: number;
  private readonly idleMs: number;
  /** Renderer processes started so far (tests check that a stopped one is replaced, and that renders reuse one). */
  starts = 0;

  constructor(opts: SandboxOptions = {}) {
    this.entry = rendererEntry(opts.script);
    this.startTimeoutMs = opts.startTimeoutMs ?? 30_000;
    this.idleMs = opts.idleMs ?? 60_000;
  }

  /**
   * Renders each template with `context`. Resolves with one outcome per template (a template that does not parse
   * or throws is an outcome, not a rejection); rejects with TemplateLimitError when a limit is reached.
   */
  render(templates: readonly string[], context: Readonly<Record<string, unknown>>, limits: Readonly<TemplateLimits>): Promise<TemplateOutcome[]> {
    const run = this.queue.then(() => this.run([...templates], { ...context }, limits));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Ends every renderer process; later renders fail. */
  dispose(): void {
    this.disposed = true;
    for (const heap of [...this.slots.keys()]) this.drop(heap);
  }

  private async run(templates: string[], context: Record<string, unknown>, limits: Readonly<TemplateLimits>): Promise<TemplateOutcome[]> {
    if (this.disposed) throw new TemplateLimitError('worker', limits, 'the template sandbox was disposed');
    const slot = this.slot(limits);
    if (slot.idle) clearTimeout(slot.idle);
    await slot.ready;
    const id = this.nextId++;
    const request: RenderRequest = { id, templates, context, maxOutputChars: limits.maxOutputChars };
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
        fail(OUT_OF_MEMORY.test(slot.stderr) ? new TemplateLimitError('memory', limits) : new TemplateLimitError('worker', limits, `it ended (${signal ?? `exit code ${code}`}) ${lastLine(slot.stderr)}`.trim()));
      const timer = setTimeout(() => fail(new TemplateLimitError('timeout', limits)), limits.timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        slot.child.off('message', onMessage);
        slot.child.off('close', onClose);
        // an idle renderer does not keep its host alive
        slot.child.channel?.unref();
      };
      slot.child.on('message', onMessage);
      slot.child.on('close', onClose);
      // a render in flight keeps the host alive
      slot.child.channel?.ref();
      slot.child.send(request, (e) => {
        if (e) fail(new TemplateLimitError('worker', limits, e.message));
      });
    });
    if (this.slots.get(limits.maxHeapMb) === slot) {
      slot.idle = setTimeout(() => this.drop(limits.maxHeapMb, slot), this.idleMs);
      slot.idle.unref();
    }
    return outcomes;
  }

  private slot(limits: Readonly<TemplateLimits>): Slot {
    const heapMb = limits.maxHeapMb;
    const existing = this.slots.get(heapMb);
    if (existing && !existing.exited) return existing;
    const { script, execArgv, cwd } = this.entry;
    if (!existsSync(script)) throw new TemplateLimitError('worker', limits, `${script} is missing (run npm run build)`);
    this.starts++;
    const child = fork(script, [], {
      cwd,
      // only the heap limit (and tsx from source): not the host's flags (--import loaders, inspector ports, its heap size)
      execArgv: [...execArgv, `--max-old-space-size=${heapMb}`],
      // ELECTRON_RUN_AS_NODE: in desktop VS Code the host's executable is Electron's (as vscode-languageclient does)
      env: { ...process.env, NODE_OPTIONS: '', ELECTRON_RUN_AS_NODE: '1', [RENDERER_ENV]: '1' },
      // never the host's stdout: for the daemon that is the LSP stream
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const slot: Slot = { child, stderr: '', exited: false, ready: Promise.resolve() };
    child.stderr?.setEncoding('utf8');
    child.stderr?.on('data', (chunk: string) => (slot.stderr = (slot.stderr + chunk).slice(-4000)));
    child.on('error', () => undefined); // reported through 'close' or the start timeout
    child.on('exit', () => (slot.exited = true));
    slot.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new TemplateLimitError('worker', limits, `it did not start within ${seconds(this.startTimeoutMs)}`)), this.startTimeoutMs);
      const onMessage = (m: RenderResponse): void => {
        if (m.kind !== 'ready') return;
        clearTimeout(timer);
        child.off('message', onMessage);
        resolve();
      };
      child.on('message', onMessage);
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        reject(new TemplateLimitError('worker', limits, `it ended before it was ready (${signal ?? `exit code ${code}`}) ${lastLine(slot.stderr)}`.trim()));
      });
    });
    slot.ready.catch(() => this.drop(heapMb, slot));
    // the host may exit with an idle renderer around; the renderer exits when its channel closes
    child.unref();
    child.channel?.unref();
    (child.stderr as { unref?: () => void } | null)?.unref?.();
    this.slots.set(heapMb, slot);
    return slot;
  }

  /** Ends a renderer process (the given one, or whichever serves this heap size); the next request starts a new one. */
  private drop(heapMb: number, only?: Slot): void {
    const slot = this.slots.get(heapMb);
    if (!slot || (only && slot !== only)) return;
    this.slots.delete(heapMb);
    if (slot.idle) clearTimeout(slot.idle);
    if (!slot.exited) slot.child.kill('SIGKILL');
  }
}

/** The last line of a process's stderr (V8's fatal error comes before a long native stack, so the first such line). */
function lastLine(stderr: string): string {
  const fatal = /^(?:#\s*)?(?:FATAL ERROR|Fatal)[^\n]*/im.exec(stderr)?.[0];
  return (fatal ?? stderr.trim().split('\n').slice(-1)[0] ?? '').slice(0, 200);
}
