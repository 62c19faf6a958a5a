/**
 * An engine for scheduler tests: real Session objects over a model whose "forward pass" is a hash of
 * everything its slot's cache holds. Each slot's cache is an array written at the positions the
 * session asks for, so a scheduler that resumed a generation in the wrong cache, or at the wrong
 * position, produces different tokens. Steps take a few milliseconds and throw if they overlap (the
 * real GPU runner is single-flight too).
 */
import type { Engine } from '../../daemon/engine/engine.js';
import { Session } from '../../daemon/engine/session.js';
import type { Model } from '../../daemon/engine/model.js';

export const N_VOCAB = 26;

export interface StepLog {
  slot: number;
  pos: number;
  n: number;
}

export class FakeEngine {
  readonly kv: number[][];
  readonly steps: StepLog[] = [];
  private inFlight = false;
  private readonly sessions: Session[];
  readonly model: { nCtx: number; feedAndSample: Model['feedAndSample'] };
  readonly tokenizer = {
    eogIds: new Set<number>([N_VOCAB]),
    isSpecial: () => false,
    tokenToBytes: (id: number) => new TextEncoder().encode(String.fromCharCode(97 + (id % N_VOCAB))),
  };
  readonly chatTemplate = undefined;

  constructor(
    readonly nSlots: number,
    nCtx = 512,
    /** Milliseconds per step. */
    private readonly stepMs = 2,
  ) {
    this.kv = Array.from({ length: nSlots }, () => []);
    this.model = { nCtx, feedAndSample: (slot, pos, tokens) => this.feed(slot, pos, tokens) };
    this.sessions = Array.from({ length: nSlots }, (_, i) => new Session(this.model as unknown as Model, i));
  }

  session(slot: number): Session {
    return this.sessions[slot]!;
  }

  asEngine(): Engine {
    return this as unknown as Engine;
  }

  /** The token that follows `tokens` (what an uninterrupted greedy generation yields). */
  static next(tokens: readonly number[]): number {
    let h = 7;
    for (let i = 0; i < tokens.length; i++) h = (h * 31 + tokens[i]! * (i + 1)) % 1_000_003;
    return h % N_VOCAB;
  }

  /** Greedy continuation of `prompt` by `n` tokens. */
  static continuation(prompt: readonly number[], n: number): number[] {
    const seq = [...prompt];
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = FakeEngine.next(seq);
      out.push(t);
      seq.push(t);
    }
    return out;
  }

  private async feed(slot: number, pos: number, tokens: readonly number[]): Promise<number> {
    if (this.inFlight) throw new Error('two forward steps at once');
    this.inFlight = true;
    try {
      this.steps.push({ slot, pos, n: tokens.length });
      await new Promise((r) => setTimeout(r, this.stepMs));
      const cache = this.kv[slot]!;
      if (pos > cache.length) throw new Error(`slot ${slot}: write at ${pos} leaves a hole (cache holds ${cache.length})`);
      cache.length = pos;
      cache.push(...tokens);
      return FakeEngine.next(cache);
    } finally {
      this.inFlight = false;
    }
  }
}
