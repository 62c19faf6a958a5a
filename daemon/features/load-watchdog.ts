/**
 * A bound on a model load. A load cannot be cancelled once it has started (a read the OS blocks, a
 * driver that does not answer), so the watchdog does not stop it: it stops *waiting* for it. The load
 * fails with LoadStalledError when it reports no progress for `stallMs`, or with LoadAbandonedError
 * when the signal aborts (a newer load, an unload, shutdown); how the load ends after that is handed
 * to `onLate` (a result to dispose, or its error) instead of being used. Either way later loads and
 * shutdown no longer wait for it.
 */

/** The daemon's bound: a load that goes this long without progress is given up. */
export const DEFAULT_LOAD_STALL_MS = 120_000;
/** Overrides DEFAULT_LOAD_STALL_MS (milliseconds); for slow disks, and for tests. */
export const LOAD_STALL_ENV = 'MOECODE_MODEL_LOAD_TIMEOUT_MS';

export class LoadStalledError extends Error {
  override readonly name = 'LoadStalledError';
  constructor(readonly stallMs: number) {
    super(`the load made no progress for ${formatSeconds(stallMs)} and was given up (a file on a stalled drive, or a GPU driver that does not answer?)`);
  }
}

export class LoadAbandonedError extends Error {
  override readonly name = 'LoadAbandonedError';
}

/** The stall bound from the environment, else the default; an unusable value is reported and ignored. */
export function loadStallMsFromEnv(warn: (message: string) => void, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[LOAD_STALL_ENV];
  if (raw === undefined || raw === '') return DEFAULT_LOAD_STALL_MS;
  const ms = Number(raw);
  if (Number.isFinite(ms) && ms > 0) return ms;
  warn(`${LOAD_STALL_ENV}=${JSON.stringify(raw.slice(0, 40))} is not a positive number of milliseconds; using ${DEFAULT_LOAD_STALL_MS}`);
  return DEFAULT_LOAD_STALL_MS;
}

/** How a load the watchdog gave up on ended. */
export type LateOutcome<T> = { value: T } | { error: Error };

export interface WatchdogOptions<T> {
  stallMs: number;
  signal: AbortSignal;
  /** Gets the outcome of a load that ended after the watchdog gave up on it. */
  onLate: (outcome: LateOutcome<T>) => void;
}

/**
 * Runs `load`, which calls `progress()` whenever it gets further; resolves with its result, or rejects
 * as described above.
 */
export function watchLoad<T>(load: (progress: () => void) => Promise<T>, opts: WatchdogOptions<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    let timer: NodeJS.Timeout | undefined;
    const giveUp = (e: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal.removeEventListener('abort', onAbort);
      reject(e);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => giveUp(new LoadStalledError(opts.stallMs)), opts.stallMs);
    };
    const onAbort = () => giveUp(new LoadAbandonedError('the load was abandoned for a newer request'));
    if (opts.signal.aborted) return onAbort();
    opts.signal.addEventListener('abort', onAbort, { once: true });
    arm();
    load(() => {
      if (!settled) arm();
    }).then(
      (value) => {
        if (settled) return opts.onLate({ value });
        settled = true;
        clearTimeout(timer);
        opts.signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (e: unknown) => {
        const error = e instanceof Error ? e : new Error(String(e));
        if (settled) return opts.onLate({ error });
        giveUp(error);
      },
    );
  });
}

function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : `${ms} ms`;
}
