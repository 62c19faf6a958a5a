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
 * Main thread: starts the step already written into `c` (CMD and its fields) and waits until every rank
 * is done or one failed (`failure` rejects with a rank's own error). Returns whether a rank aborted, after
 * giving its error up to a second to arrive through `failure`.
 */
export async function postStepAndWait(c: Int32Array, failure: Promise<never>): Promise<boolean> {
  const gen = Atomics.load(c, Ctl.DONE_GEN);
  Atomics.add(c, Ctl.STEP_SEQ, 1);
  Atomics.notify(c, Ctl.STEP_SEQ);
  const w = (Atomics as unknown as AtomicsWaitAsync).waitAsync(c, Ctl.DONE_GEN, gen);
  if (w.async) await Promise.race([w.value, failure]);
  if (!Atomics.load(c, Ctl.ABORT)) return false;
  await Promise.race([failure, new Promise((r) => setTimeout(r, 1000))]);
  return true;
}
