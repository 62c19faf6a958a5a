/**
 * A sequence in one KV slot of a model. It remembers which tokens its cache holds, so a new prompt that
 * shares a prefix with the last one (the user typed one more character) only prefills the new tokens.
 */
import type { SamplingParams } from '../gpu/graph-runner.js';
import type { Model } from './model.js';

export function commonPrefixLength(a: readonly number[], b: readonly number[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

export interface PrefillStats {
  /** Tokens actually evaluated (prompt minus the reused prefix). */
  evaluated: number;
  reused: number;
  ms: number;
}

export class Session {
  /** Tokens whose keys and values are in the cache, in order. */
  private cached: number[] = [];

  constructor(
    readonly model: Model,
    readonly slot: number,
  ) {}

  get tokens(): readonly number[] {
    return this.cached;
  }

  /** Forget the cache contents (the next prefill evaluates everything). */
  reset(): void {
    this.cached = [];
  }

  /**
   * Makes the cache hold exactly `prompt` and samples the token that follows it. Reuses the longest
   * common prefix with what the cache holds; at least the last prompt token is evaluated. The sampled
   * token obeys sampling.mask when there is one (as in decode).
   */
  async prefill(prompt: readonly number[], sampling: SamplingParams): Promise<{ token: number; stats: PrefillStats }> {
    if (prompt.length === 0) throw new Error('empty prompt');
    if (prompt.length >= this.model.nCtx) {
      throw new RangeError(`the prompt has ${prompt.length} tokens; the context holds ${this.model.nCtx}`);
    }
    const t0 = performance.now();
    const reuse = Math.min(commonPrefixLength(this.cached, prompt), prompt.length - 1);
    const todo = prompt.slice(reuse);
    this.cached = prompt.slice(0, reuse);
    const token = await this.model.feedAndSample(this.slot, reuse, todo, sampling, prompt.length);
    this.cached = prompt.slice();
    return { token, stats: { evaluated: todo.length, reused: reuse, ms: performance.now() - t0 } };
  }

  /** Appends `token` (the last sampled one) and samples the next. */
  async decode(token: number, sampling: SamplingParams): Promise<number> {
    const pos = this.cached.length;
    const next = await this.model.feedAndSample(this.slot, pos, [token], sampling, pos + 1);
    this.cached.push(token);
    return next;
  }

  /** Whether `n` more tokens fit in the context. */
  fits(n: number): boolean {
    return this.cached.length + n < this.model.nCtx;
  }
}
