/**
 * The CPU backend's shared control block: one Int32Array over a SharedArrayBuffer that the main thread
 * and every rank see. The main thread posts a step (its fields and token ids) and bumps STEP_SEQ; each
 * rank runs the step, meeting the others at barriers, and reports done; the last one to finish wakes the
 * main thread. A rank that fails sets ABORT, which releases everyone waiting.
 */

export const enum Ctl {
  STEP_SEQ = 0,
  BAR_COUNT = 1,
  BAR_GEN = 2,
  DONE_COUNT = 3,
  DONE_GEN = 4,
  ABORT = 5,
  CMD = 6,
  N_TOKENS = 8,
  POS = 9,
  SLOT = 10,
  /** 0: KV cache only, 1: logits of the last token, 2: logits of every token. */
  LOGITS = 11,
  /** Token ids start here. */
  TOKENS = 16,
}

export const enum Cmd {
  STEP = 1,
  EXIT = 2,
}

export class AbortedError extends Error {
  override name = 'AbortedError';
}

export function createControl(maxBatch: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer((Ctl.TOKENS + maxBatch) * 4));
}

/**
 * A reusable barrier over `n` ranks. Arrivals spin briefly (ranks usually arrive together: they do equal
 * work) and then sleep on the generation word; the last arrival resets the count and bumps the generation.
 */
export class Barrier {
  constructor(
    private readonly c: Int32Array,
    private readonly n: number,
    private readonly spin: number,
  ) {}

  wait(): void {
    const c = this.c;
    const gen = Atomics.load(c, Ctl.BAR_GEN);
    if (Atomics.add(c, Ctl.BAR_COUNT, 1) === this.n - 1) {
      Atomics.store(c, Ctl.BAR_COUNT, 0);
      Atomics.add(c, Ctl.BAR_GEN, 1);
      Atomics.notify(c, Ctl.BAR_GEN);
    } else {
      let i = 0;
      while (Atomics.load(c, Ctl.BAR_GEN) === gen) {
        if (i++ < this.spin) continue;
        Atomics.wait(c, Ctl.BAR_GEN, gen, 200);
        if (Atomics.load(c, Ctl.ABORT)) break;
      }
    }
    if (Atomics.load(c, Ctl.ABORT)) throw new AbortedError('another rank failed');
  }
}

/**
 * Rank side: blocks until word `i` of `c` differs from `old`, and returns its new value. Atomics.wait
 * returns on any notify of that word, including one that was meant for an earlier change but arrived late
 * (the notifier changed the word, was preempted, and notified after this thread had already seen the
 * change and come back to wait): so the word is checked again, never trusted from the wake alone.
 */
export function waitForChange(c: Int32Array, i: number, old: number): number {
  let v: number;
  while ((v = Atomics.load(c, i)) === old) Atomics.wait(c, i, old);
  return v;
}

/** Marks the step done for this rank; the last rank wakes the main thread. */
export function signalDone(c: Int32Array, n: number): void {
  if (Atomics.add(c, Ctl.DONE_COUNT, 1) === n - 1) {
    Atomics.store(c, Ctl.DONE_COUNT, 0);
    Atomics.add(c, Ctl.DONE_GEN, 1);
    Atomics.notify(c, Ctl.DONE_GEN);
  }
}

/** Sets ABORT and wakes every waiter (ranks at a barrier, the main thread waiting for the step). */
export function abortAll(c: Int32Array): void {
  Atomics.store(c, Ctl.ABORT, 1);
  Atomics.add(c, Ctl.BAR_GEN, 1);
  Atomics.notify(c, Ctl.BAR_GEN);
  Atomics.add(c, Ctl.DONE_GEN, 1);
  Atomics.notify(c, Ctl.DONE_GEN);
  Atomics.add(c, Ctl.STEP_SEQ, 1);
  Atomics.notify(c, Ctl.STEP_SEQ);
}

/** Atomics.waitAsync (Node 16+; not in this TypeScript lib). */
interface AtomicsWaitAsync {
  waitAsync(a: Int32Array, index: number, value: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

/**
 * A rank's failure as the main thread waits for it, one wait at a time: each wait registers a waiter and
 * removes it when done, so nothing accumulates on a promise that lives as long as the model (racing every
 * step against one such promise would keep a reaction per step).
 */
export class RankFailure {
  private first: Error | undefined;
  private readonly waiters = new Set<(e: Error) => void>();

  /** Records the first failure and rejects every wait in progress with it. */
  report(e: Error): void {
    if (this.first) return;
    this.first = e;
    for (const w of this.waiters) w(e);
    this.waiters.clear();
  }

  /** `p`'s value, or the failure (reported before or during the wait) as a rejection. */
  async race<T>(p: Promise<T>): Promise<T> {
    if (this.first) throw this.first;
    let reject!: (e: Error) => void;
    const failed = new Promise<never>((_, r) => (reject = r));
    this.waiters.add(reject);
    try {
      return await Promise.race([p, failed]);
    } finally {
      this.waiters.delete(reject);
    }
  }
}

/**
 * Main thread: starts the step already written into `c` (CMD and its fields) and waits until every rank
 * is done or one failed (rejecting with the rank's own error when `failure` has it). Returns whether a rank
 * aborted, after giving its error up to a second to arrive.
 */
export async function postStepAndWait(c: Int32Array, failure: RankFailure): Promise<boolean> {
  const gen = Atomics.load(c, Ctl.DONE_GEN);
  Atomics.add(c, Ctl.STEP_SEQ, 1);
  Atomics.notify(c, Ctl.STEP_SEQ);
  // a wake proves nothing (a late notify of the previous step's DONE_GEN wakes this wait too, while the
  // ranks are still running this step): the step is done when DONE_GEN has moved
  while (Atomics.load(c, Ctl.DONE_GEN) === gen) {
    const w = (Atomics as unknown as AtomicsWaitAsync).waitAsync(c, Ctl.DONE_GEN, gen);
    if (w.async) await failure.race(w.value);
  }
  if (!Atomics.load(c, Ctl.ABORT)) return false;
  let timer: NodeJS.Timeout | undefined;
  try {
    await failure.race(new Promise((r) => (timer = setTimeout(r, 1000))));
  } finally {
    clearTimeout(timer);
  }
  return true;
}
