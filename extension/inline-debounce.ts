/**
 * Adaptive debounce for inline suggestions: wait `baseMs` after the last keystroke, longer while the
 * user types faster than that (up to 2 × baseMs), so a burst of typing sends one request, not one per
 * key. Plain logic with an injectable clock, tested in test/editor/inline-debounce.test.ts.
 */
export interface Clock {
  now(): number;
}

export class AdaptiveDebounce {
  /** Exponentially weighted mean of the gaps between requests for the same document, ms. */
  private meanGapMs: number | undefined;
  private lastAt: number | undefined;
  private lastKey: string | undefined;

  constructor(private readonly clock: Clock = { now: () => Date.now() }) {}

  /** Records a keystroke-driven request for `key` (a document) and returns how long to wait before sending it. */
  delayFor(key: string, baseMs: number): number {
    const now = this.clock.now();
    if (this.lastKey === key && this.lastAt !== undefined) {
      const gap = now - this.lastAt;
      // gaps longer than a few seconds are pauses, not typing speed
      if (gap < 2000) this.meanGapMs = this.meanGapMs === undefined ? gap : 0.7 * this.meanGapMs + 0.3 * gap;
    } else {
      this.meanGapMs = undefined;
    }
    this.lastAt = now;
    this.lastKey = key;
    if (baseMs <= 0) return 0;
    if (this.meanGapMs === undefined || this.meanGapMs >= baseMs) return baseMs;
    // typing faster than baseMs between keys: stretch the wait towards 2 × baseMs
    const speed = 1 - this.meanGapMs / baseMs; // 0 (slow) … 1 (very fast)
    return Math.round(baseMs * (1 + speed));
  }
}

/** Resolves true after `ms`, or false as soon as `isCancelled` turns true (checked by `onCancel`). */
export function sleepUnlessCancelled(ms: number, onCancel: (listener: () => void) => { dispose(): void }): Promise<boolean> {
  if (ms <= 0) return Promise.resolve(true);
  return new Promise((resolve) => {
    const sub = onCancel(() => {
      clearTimeout(timer);
      sub.dispose();
      resolve(false);
    });
    const timer = setTimeout(() => {
      sub.dispose();
      resolve(true);
    }, ms);
  });
}
