/**
 * An engine for scheduler tests: real Session objects over a model whose "forward pass" is a hash of
 * everything its slot's cache holds. Each slot's cache is an array written at the positions the
 * session asks for, so a scheduler that resumed a generation in the wrong cache, or at the wrong
 * position, produces different tokens. Steps take a few milliseconds and throw if they overlap (the
 * real GPU runner is single-flight too). The vocabulary is the letters a..z (ids 0..25), an
 * end-of-generation token (26) and a control token (27) the hash never yields; a sampling mask moves the
 * token to the next allowed id (cyclically), and each step's mask is logged.
 */
import type { Engine } from '../../daemon/engine/engine.js';
import { Session } from '../../daemon/engine/session.js';
import type { Model } from '../../daemon/engine/model.js';
import { maskAllows, type TokenMask } from '../../daemon/engine/token-mask.js';

/** Letters: the tokens the hash yields. */
export const N_VOCAB = 26;
export const EOG_ID = 26;
export const CONTROL_ID = 27;
export const VOCAB_SIZE = 28;

export interface StepLog {
  slot: number;
  pos: number;
  n: number;
  mask?: TokenMask;
}

export class FakeEngine {
  readonly kv: number[][];
  readonly steps: StepLog[] = [];
  private inFlight = false;
  private readonly sessions: Session[];
  readonly model: { nCtx: number; feedAndSample: Model['feedAndSample'] };
  readonly tokenizer = {
    vocabSize: VOCAB_SIZE,
    eogIds: new Set<number>([EOG_ID]),
    isEog: (id: number) => id === EOG_ID,
    isControl: (id: number) => id >= EOG_ID,
    isSpecial: (id: number) => id >= EOG_ID,
    tokenToBytes: (id: number) => new TextEncoder().encode(id < N_VOCAB ? String.fromCharCode(97 + id) : id === EOG_ID ? '<eog>' : '<ctl>'),
  };
  readonly chatTemplate = undefined;

  constructor(
    readonly nSlots: number,
    nCtx = 512,
    /** Milliseconds per step. */
    private readonly stepMs = 2,
  ) {
    this.kv = Array.from({ length: nSlots }, () => []);
    this.model = { nCtx, feedAndSample: (slot, pos, tokens, sampling) => this.feed(slot, pos, tokens, sampling.mask) };
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

  /** The token the hash gives, moved to the next id the mask allows. */
  static sample(tokens: readonly number[], mask?: TokenMask): number {
    let t = FakeEngine.next(tokens);
    if (mask) for (let n = 0; n < VOCAB_SIZE && !maskAllows(mask, t); n++) t = (t + 1) % VOCAB_SIZE;
    return t;
  }

  /** Greedy continuation of `prompt` by `n` tokens (token i sampled with maskFor(i)). */
  static continuation(prompt: readonly number[], n: number, maskFor: (generated: number) => TokenMask | undefined = () => undefined): number[] {
    const seq = [...prompt];
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const t = FakeEngine.sample(seq, maskFor(i));
      out.push(t);
      seq.push(t);
    }
    return out;
  }

  private async feed(slot: number, pos: number, tokens: readonly number[], mask?: TokenMask): Promise<number> {
    if (this.inFlight) throw new Error('two forward steps at once');
    this.inFlight = true;
    try {
      this.steps.push({ slot, pos, n: tokens.length, mask });
      await new Promise((r) => setTimeout(r, this.stepMs));
      const cache = this.kv[slot]!;
      if (pos > cache.length) throw new Error(`slot ${slot}: write at ${pos} leaves a hole (cache holds ${cache.length})`);
      cache.length = pos;
      cache.push(...tokens);
      return FakeEngine.sample(cache, mask);
    } finally {
      this.inFlight = false;
    }
  }
}
