/**
 * One generation as a sequence of engine steps, so the scheduler can stop between any two of them:
 * a step is one prefill chunk or one decoded token. The job keeps what it has generated; when it
 * resumes in a slot whose cache was taken meanwhile, it re-evaluates prompt + generated tokens (the
 * longest common prefix with what the slot holds is still reused).
 */
import type { Engine } from '../engine/engine.js';
import { GenerationText, withMask } from '../engine/generate.js';
import { commonPrefixLength, type Session } from '../engine/session.js';
import { noControlMask, stepMasks, type GenerationMasks, type TokenMask } from '../engine/token-mask.js';
import type { SamplingParams } from '../gpu/graph-runner.js';
import type { SlotLease, SlotPool } from './slot-pool.js';

export type JobKind = 'completion' | 'chat';

export type JobStopReason = 'eos' | 'stop' | 'length' | 'context' | 'cancelled' | 'time';

export interface GenerationRequest {
  /** Completions run ahead of chat (and explain); see scheduler.ts. */
  kind: JobKind;
  /**
   * The engine whose tokenizer and context the prompt was built for: a request that reaches the scheduler
   * after a model switch fails with EngineGoneError instead of running old token ids on the new model.
   */
  preparedFor?: Engine;
  /** Whose KV slot this uses: a document URI for completions, 'chat' for chat and explain. */
  owner: string;
  prompt: readonly number[];
  maxTokens: number;
  sampling: SamplingParams;
  /** Stop strings (cut from the text). */
  stop?: readonly string[];
  /** Checked after every token with the text so far; true ends the generation (reason 'stop'). */
  shouldStop?: (text: string) => boolean;
  /** Text as it becomes final (stop strings held back). */
  onText?: (delta: string) => void;
  /**
   * Tokens the first and every sampled token may be (token-mask.ts). `every` defaults to
   * noControlMask(tokenizer): a daemon generation never samples a control token that does not end
   * generation (FIM markers, <|im_start|>, …).
   */
  masks?: GenerationMasks;
  /** Most milliseconds of decoding (after the first token); 'time' when exceeded. */
  timeBudgetMs?: number;
  signal?: AbortSignal;
}

export interface GenerationOutcome {
  text: string;
  tokens: number[];
  stopReason: JobStopReason;
  promptTokens: number;
  /** Prompt tokens found in the slot's cache when the job started. */
  reusedTokens: number;
  /** Tokens evaluated by prefill steps (including re-evaluation after losing the slot). */
  prefillTokens: number;
  prefillMs: number;
  /** Tokens decoded one at a time. */
  decodeTokens: number;
  decodeMs: number;
  /** From submission to the first step. */
  queuedMs: number;
  /** Times a higher-priority job ran between two of this job's steps. */
  preemptions: number;
}

export class GenerationJob {
  readonly submittedAt = performance.now();
  private startedAt: number | undefined;
  private readonly text: GenerationText;
  /** The sampler's mask for the next token, by tokens generated so far. */
  private readonly maskFor: (generated: number) => TokenMask | undefined;
  private lease: SlotLease | undefined;
  private phase: 'prefill' | 'decode' | 'done' = 'prefill';
  /** Sampled, added to the text, not yet fed to the cache. */
  private pending = -1;
  private reused = -1;
  private prefillTokens = 0;
  private prefillMs = 0;
  private decodeTokens = 0;
  private decodeMs = 0;
  preemptions = 0;
  private outcome: GenerationOutcome | undefined;

  constructor(
    readonly req: GenerationRequest,
    engine: Engine,
    /** Largest prefill chunk per step. */
    private readonly prefillChunk: number,
  ) {
    this.text = new GenerationText(engine.tokenizer, req.stop, req.onText);
    const every = req.masks?.every ?? noControlMask(engine.tokenizer);
    this.maskFor = stepMasks({ first: req.masks?.first, every }, engine.tokenizer.vocabSize);
  }

  get kind(): JobKind {
    return this.req.kind;
  }

  get started(): boolean {
    return this.startedAt !== undefined;
  }

  get done(): boolean {
    return this.phase === 'done';
  }

  get aborted(): boolean {
    return this.req.signal?.aborted ?? false;
  }

  /** Where the job is: its phase, prompt tokens evaluated so far, tokens generated. */
  get progress(): { phase: 'prefill' | 'decode' | 'done'; evaluated: number; generated: number } {
    return { phase: this.phase, evaluated: this.prefillTokens, generated: this.text.tokens.length };
  }

  get result(): GenerationOutcome | undefined {
    return this.outcome;
  }

  /** Runs one engine step. Returns true when the job has finished (see result). */
  async step(engine: Engine, pool: SlotPool): Promise<boolean> {
    if (this.done) return true;
    if (this.aborted) return this.finish('cancelled', pool);
    this.startedAt ??= performance.now();
    let refill = false;
    if (this.lease === undefined || !pool.holds(this.lease)) {
      if (this.lease !== undefined) pool.release(this.lease);
      this.lease = pool.acquire(this.req.owner);
      refill = this.phase === 'decode';
    }
    const session = engine.session(this.lease.slot);
    if (this.phase === 'decode' && !refill) {
      const t0 = performance.now();
      const next = await session.decode(this.pending, this.sampling());
      if (this.done) return true; // finished (cancelled) while the step ran
      this.decodeMs += performance.now() - t0;
      this.decodeTokens++;
      return this.accept(next, session, pool);
    }
    // prefill, in chunks; after losing the slot, prompt + generated tokens (the pending one included)
    const target = this.phase === 'prefill' ? this.req.prompt : [...this.req.prompt, ...this.text.tokens];
    const lcp = commonPrefixLength(session.tokens, target);
    if (this.reused < 0) this.reused = Math.min(lcp, target.length - 1);
    const end = Math.min(target.length, lcp + this.prefillChunk);
    const t0 = performance.now();
    if (end < target.length) {
      const r = await session.prefill(target.slice(0, end), this.req.sampling);
      if (this.done) return true;
      this.prefillMs += performance.now() - t0;
      this.prefillTokens += r.stats.evaluated;
      return false;
    }
    const r = await session.prefill(target, this.sampling());
    if (this.done) return true;
    this.prefillMs += performance.now() - t0;
    this.prefillTokens += r.stats.evaluated;
    this.phase = 'decode';
    return this.accept(r.token, session, pool);
  }

  /** Sampling parameters for the next token (generated tokens so far decide its mask). */
  private sampling(): SamplingParams {
    return withMask(this.req.sampling, this.maskFor(this.text.tokens.length));
  }

  /** Ends the job now (cancelled, or the engine went away); safe to call more than once. */
  finish(reason: JobStopReason, pool?: SlotPool): true {
    if (this.phase !== 'done') {
      this.phase = 'done';
      const text = this.text.finish(reason === 'time' ? 'length' : reason);
      if (this.lease !== undefined && pool !== undefined) pool.release(this.lease);
      this.lease = undefined;
      this.outcome = {
        text,
        tokens: this.text.tokens.slice(),
        stopReason: reason,
        promptTokens: this.req.prompt.length,
        reusedTokens: Math.max(0, this.reused),
        prefillTokens: this.prefillTokens,
        prefillMs: this.prefillMs,
        decodeTokens: this.decodeTokens,
        decodeMs: this.decodeMs,
        queuedMs: (this.startedAt ?? performance.now()) - this.submittedAt,
        preemptions: this.preemptions,
      };
    }
    return true;
  }

  private accept(token: number, session: Session, pool: SlotPool): boolean {
    const ended = this.text.push(token);
    if (ended) return this.finish(ended, pool);
    if (this.req.shouldStop?.(this.text.text)) return this.finish('stop', pool);
    if (this.text.tokens.length >= this.req.maxTokens) return this.finish('length', pool);
    if (this.req.timeBudgetMs !== undefined && this.decodeMs >= this.req.timeBudgetMs) return this.finish('time', pool);
    if (this.aborted) return this.finish('cancelled', pool);
    if (!session.fits(1)) return this.finish('context', pool);
    this.pending = token;
    return false;
  }
}
