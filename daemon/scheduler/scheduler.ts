/**
 * The one way to the engine. The GPU runs one forward step at a time, so every generation is a job
 * here, driven step by step (a prefill chunk or one token):
 * - inline completions go ahead of chat and explain: a completion that arrives while a chat answer is
 *   being written runs between two of the chat's tokens, and the chat then resumes where it was;
 * - a started completion runs to its end (they are short); waiting completions start in turn by
 *   document, the document served longest ago first, so one busy document cannot starve another;
 * - chats run one at a time in arrival order;
 * - a chat's wait is bounded: once it has waited `chatMaxWaitMs` (default 1 s) for its next step while
 *   completions ran, it gets the engine for a slice of `chatSliceMs` (default 250 ms), even between a
 *   completion's tokens; then completions go first again. Under a storm of completions a chat still
 *   gets about a fifth of the engine, and no completion waits longer than one slice for it;
 * - queues are bounded: a job that would exceed its class's limit is refused (QueueFullError) instead
 *   of waiting behind work the user has long forgotten;
 * - a cancelled job leaves its queue at once and its promise settles at once; a running one stops at
 *   the next step boundary, and its slot is released then.
 */
import type { Engine } from '../engine/engine.js';
import { GenerationJob, type GenerationOutcome, type GenerationRequest, type JobKind } from './generation-job.js';
import { SlotPool } from './slot-pool.js';

export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(
    readonly kind: JobKind,
    readonly limit: number,
  ) {
    super(`too many ${kind} requests are waiting (limit ${limit}); try again when the current ones are done`);
  }
}

/** The engine went away (unloaded or replaced) while the job waited or ran. */
export class EngineGoneError extends Error {
  override readonly name = 'EngineGoneError';
}

export interface SchedulerOptions {
  /** Most jobs waiting (not started), per class. Default completion 8, chat 4. */
  limits?: Partial<Record<JobKind, number>>;
  /** Largest prefill chunk per step, per class. Default: completion 256, chat 64 (a smaller chunk lets completions cut in sooner). */
  prefillChunk?: Partial<Record<JobKind, number>>;
  /** Longest a chat waits for its next step while completions run, ms (default 1000). */
  chatMaxWaitMs?: number;
  /** How long an overdue chat then keeps the engine, ms (default 250). */
  chatSliceMs?: number;
  /** Called when the scheduler goes from idle to busy and back. */
  onBusyChange?: (busy: boolean) => void;
  /** Called with every finished job's outcome. */
  onFinished?: (outcome: GenerationOutcome, kind: JobKind) => void;
  log?: (message: string) => void;
}

interface Entry {
  job: GenerationJob;
  /** Fairness key: document URI for completions. */
  key: string;
  seq: number;
  /** When the job last ran a step, or was submitted (performance.now()). */
  lastRan: number;
  resolve: (o: GenerationOutcome) => void;
  reject: (e: unknown) => void;
  settled: boolean;
  onAbort?: () => void;
}

export interface SchedulerState {
  queued: Record<JobKind, number>;
  running: number;
  limits: Record<JobKind, number>;
  slots: { slot: number; owner: string | null; busy: boolean; cachedTokens: number }[];
  counters: { preemptions: number; cancelled: number; refused: number; completed: number };
  last: { kind: JobKind; outcome: GenerationOutcome } | undefined;
  /** The job the last step ran. */
  current: { kind: JobKind; owner: string; phase: 'prefill' | 'decode'; promptTokens: number; evaluated: number; generated: number } | undefined;
}

export class Scheduler {
  private engine: Engine | undefined;
  private pool: SlotPool | undefined;
  private entries: Entry[] = [];
  private seq = 0;
  private pumping: Promise<void> | undefined;
  private current: Entry | undefined;
  private lastServed = new Map<string, number>();
  private busy = false;
  private idleWaiters: (() => void)[] = [];
  readonly limits: Record<JobKind, number>;
  private readonly chunk: Record<JobKind, number>;
  readonly counters = { preemptions: 0, cancelled: 0, refused: 0, completed: 0 };
  private last: { kind: JobKind; outcome: GenerationOutcome } | undefined;
  private readonly chatMaxWaitMs: number;
  private readonly chatSliceMs: number;
  /** The overdue chat that has the engine, and until when. */
  private slice: { entry: Entry; until: number } | undefined;

  constructor(private readonly opts: SchedulerOptions = {}) {
    this.limits = { completion: opts.limits?.completion ?? 8, chat: opts.limits?.chat ?? 4 };
    this.chunk = { completion: opts.prefillChunk?.completion ?? 256, chat: opts.prefillChunk?.chat ?? 64 };
    this.chatMaxWaitMs = opts.chatMaxWaitMs ?? 1000;
    this.chatSliceMs = opts.chatSliceMs ?? 250;
  }

  get hasEngine(): boolean {
    return this.engine !== undefined;
  }

  /**
   * Switches to another engine (or none). Every job of the old one fails with EngineGoneError; resolves
   * once no step runs on the old engine any more, so the caller can dispose of it.
   */
  async setEngine(engine: Engine | undefined): Promise<void> {
    for (const e of [...this.entries]) this.settle(e, undefined, new EngineGoneError(engine ? 'the model was reloaded' : 'the model was unloaded'));
    this.entries = [];
    this.engine = undefined;
    this.pool = undefined;
    await this.pumping;
    this.engine = engine;
    this.pool = engine ? new SlotPool(engine.nSlots) : undefined;
    this.lastServed.clear();
    this.updateBusy();
  }

  /** Queues a generation; settles with its outcome (stopReason 'cancelled' when its signal aborts). */
  submit(req: GenerationRequest, key = req.owner): Promise<GenerationOutcome> {
    const engine = this.engine;
    if (!engine) return Promise.reject(new EngineGoneError('no model is loaded'));
    if (req.preparedFor && req.preparedFor !== engine) return Promise.reject(new EngineGoneError('the model changed while the request was prepared'));
    if (req.prompt.length === 0) return Promise.reject(new RangeError('empty prompt'));
    if (req.prompt.length >= engine.model.nCtx) {
      return Promise.reject(new RangeError(`the prompt has ${req.prompt.length} tokens; the context holds ${engine.model.nCtx}`));
    }
    const waiting = this.entries.filter((e) => e.job.kind === req.kind && !e.job.started).length;
    if (waiting >= this.limits[req.kind]) {
      this.counters.refused++;
      return Promise.reject(new QueueFullError(req.kind, this.limits[req.kind]));
    }
    const job = new GenerationJob(req, engine, this.chunk[req.kind]);
    return new Promise<GenerationOutcome>((resolve, reject) => {
      const entry: Entry = { job, key, seq: this.seq++, lastRan: performance.now(), resolve, reject, settled: false };
      if (req.signal) {
        if (req.signal.aborted) {
          this.counters.cancelled++;
          resolve(job.finish('cancelled') && job.result!);
          return;
        }
        entry.onAbort = () => this.cancel(entry);
        req.signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.entries.push(entry);
      this.updateBusy();
      void this.pump();
    });
  }

  /** A document was closed: its KV slot is freed (its cache reset once no step runs). */
  forgetOwner(owner: string): void {
    const slot = this.pool?.forget(owner);
    const engine = this.engine;
    if (slot === undefined || !engine) return;
    const reset = () => {
      if (this.engine === engine && this.pool?.ownerOf(slot) === null) engine.session(slot).reset();
    };
    if (this.pumping) void this.pumping.then(reset);
    else reset();
  }

  /** Resolves when no job is queued or running. */
  whenIdle(): Promise<void> {
    if (this.entries.length === 0 && !this.pumping) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  state(): SchedulerState {
    const queued = { completion: 0, chat: 0 };
    let running = 0;
    for (const e of this.entries) {
      if (e.job.started) running++;
      else queued[e.job.kind]++;
    }
    const slots = (this.pool?.slots() ?? []).map((s) => ({
      slot: s.slot,
      owner: s.owner,
      busy: s.pins > 0,
      cachedTokens: this.engine ? this.engine.session(s.slot).tokens.length : 0,
    }));
    const cur = this.current && !this.current.settled && !this.current.job.done ? this.current.job : undefined;
    const current = cur
      ? { kind: cur.kind, owner: cur.req.owner, phase: cur.progress.phase as 'prefill' | 'decode', promptTokens: cur.req.prompt.length, evaluated: cur.progress.evaluated, generated: cur.progress.generated }
      : undefined;
    return { queued, running, limits: { ...this.limits }, slots, counters: { ...this.counters }, last: this.last, current };
  }

  private cancel(entry: Entry): void {
    if (entry.settled) return;
    this.counters.cancelled++;
    if (!entry.job.started) {
      // never ran: leaves the queue now
      this.entries = this.entries.filter((e) => e !== entry);
      entry.job.finish('cancelled', this.pool);
      this.settle(entry, entry.job.result);
      this.updateBusy();
      return;
    }
    // running: answer now with what it has; the step in flight finishes, then the pump drops it
    this.settle(entry, entry.job.finish('cancelled', this.pool) && entry.job.result);
  }

  private settle(entry: Entry, outcome: GenerationOutcome | undefined, error?: unknown): void {
    if (entry.settled) return;
    entry.settled = true;
    if (entry.onAbort) entry.job.req.signal?.removeEventListener('abort', entry.onAbort);
    if (error !== undefined || outcome === undefined) entry.reject(error ?? new Error('job ended without a result'));
    else {
      if (outcome.stopReason !== 'cancelled') this.counters.completed++;
      this.last = { kind: entry.job.kind, outcome };
      entry.resolve(outcome);
      try {
        this.opts.onFinished?.(outcome, entry.job.kind);
      } catch (e) {
        this.opts.log?.(`onFinished failed: ${(e as Error).message}`);
      }
    }
  }

  private pick(): Entry | undefined {
    const live = this.entries;
    // chats: the one already started (preempted or current) first, else the oldest
    const chat = live.find((e) => e.job.kind === 'chat' && e.job.started) ?? live.find((e) => e.job.kind === 'chat');
    const competing = live.some((e) => e.job.kind === 'completion');
    if (chat && competing) {
      const now = performance.now();
      if (this.slice?.entry === chat && now < this.slice.until) return chat;
      if (now - chat.lastRan >= this.chatMaxWaitMs) {
        this.slice = { entry: chat, until: now + this.chatSliceMs };
        return chat;
      }
    }
    const cur = this.current;
    if (cur && cur.job.kind === 'completion' && !cur.job.done && live.includes(cur)) return cur;
    let best: Entry | undefined;
    for (const e of live) {
      if (e.job.kind !== 'completion') continue;
      if (!best) best = e;
      else {
        const a = this.lastServed.get(e.key) ?? -1;
        const b = this.lastServed.get(best.key) ?? -1;
        if (a < b || (a === b && e.seq < best.seq)) best = e;
      }
    }
    return best ?? chat;
  }

  private pump(): Promise<void> {
    if (this.pumping) return this.pumping;
    this.pumping = (async () => {
      try {
        while (true) {
          this.entries = this.entries.filter((e) => !e.settled);
          const engine = this.engine;
          const pool = this.pool;
          const entry = this.pick();
          if (!entry || !engine || !pool) break;
          const prev = this.current;
          if (prev && prev !== entry && prev.job.kind === 'chat' && prev.job.started && !prev.settled && entry.job.kind === 'completion') {
            prev.job.preemptions++;
            this.counters.preemptions++;
          }
          if (this.slice && this.slice.entry !== entry) this.slice = undefined;
          if (!entry.job.started) this.lastServed.set(entry.key, entry.seq);
          this.current = entry;
          let finished: boolean;
          try {
            finished = await entry.job.step(engine, pool);
          } catch (e) {
            entry.job.finish('cancelled', pool);
            this.opts.log?.(`generation failed: ${(e as Error).stack ?? e}`);
            this.settle(entry, undefined, e);
            finished = true;
          }
          entry.lastRan = performance.now();
          if (this.engine !== engine) break; // swapped while the step ran: setEngine settled everyone
          if (finished || entry.settled) {
            entry.job.finish('cancelled', pool); // no-op unless the job was settled early
            this.settle(entry, entry.job.result);
            this.entries = this.entries.filter((e) => e !== entry);
            if (this.current === entry) this.current = undefined;
          }
        }
      } finally {
        this.pumping = undefined;
        this.updateBusy();
      }
    })();
    return this.pumping;
  }

  private updateBusy(): void {
    const busy = this.entries.length > 0 || this.pumping !== undefined;
    if (busy !== this.busy) {
      this.busy = busy;
      this.opts.onBusyChange?.(busy);
    }
    if (!busy) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of waiters) w();
    }
  }
}
