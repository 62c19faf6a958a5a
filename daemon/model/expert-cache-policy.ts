/**
 * Which experts of a MoE layer hold its GPU slots, step by step (backend-neutral and pure: the GPU expert
 * executor applies what it decides). Every expert of the layer has a score that combines how often and how
 * recently it was routed to — LRFU's combined recency and frequency (Lee et al., 1999): each routed token
 * adds 1, and the score halves every `halfLife` steps of the layer. The routing observed while you work
 * therefore moves hot experts onto the GPU and cold ones off it.
 *
 * For a step, each routed expert is
 *   resident   it holds a slot: computed on the GPU (a hit);
 *   uploaded   it takes the slot of the coldest resident expert this step does not use, and runs on the GPU,
 *              when `uploadMinTokens` or more of the step's tokens use it (a prefill batch: one upload is
 *              cheaper than that many rows on the CPU; ggml offloads a weight to the GPU from batches of 32
 *              on), or when its score beats that expert's by `migrateFactor` (a hot expert migrates; at
 *              most `maxMigrationsPerStep` per step, so a decode step never stalls on uploads);
 *   cpu        otherwise: computed where it lives, on the CPU.
 * Prefetch: the executor predicts the next layer's routing (its router applied to the current hidden
 * state) and asks `planPrefetch`, which uploads predicted experts whose score plus the expected tokens
 * (the prediction's measured accuracy times the predicted tokens) beats the coldest unpredicted resident's
 * by `migrateFactor`, at most `maxPrefetchPerStep` per step. Predictions never change the scores.
 */

export interface CachePolicyOptions {
  /** A non-resident expert used by at least this many tokens of a step is uploaded (default 32). */
  uploadMinTokens: number;
  /** Steps after which a score has halved (default 16). */
  halfLife: number;
  /** An expert replaces a resident one when its score is this many times larger (default 2). */
  migrateFactor: number;
  /** Migrations (hot experts moved to the GPU) per layer and step (default 1). */
  maxMigrationsPerStep: number;
  /** Whether predicted experts of the next layer may be uploaded ahead of their use (default true). */
  prefetch: boolean;
  /** Prefetch uploads per layer and step (default 1). */
  maxPrefetchPerStep: number;
}

export const DEFAULT_CACHE_POLICY: CachePolicyOptions = {
  uploadMinTokens: 32,
  halfLife: 16,
  migrateFactor: 2,
  maxMigrationsPerStep: 1,
  prefetch: true,
  maxPrefetchPerStep: 1,
};

/** Why an expert was uploaded into a slot. */
export type UploadReason = 'batch' | 'migrate' | 'prefetch';

export interface SlotUpload {
  expert: number;
  slot: number;
  /** The expert that held the slot (-1: the slot was empty). */
  evicted: number;
  reason: UploadReason;
}

export interface StepPlan {
  /** [n_expert] the slot each expert of the step runs in, -1 for the CPU (and for experts the step does not use). */
  slotOf: Int32Array;
  /** Routed experts that held a slot before the step (hits). */
  resident: number[];
  uploads: SlotUpload[];
  /** Routed experts computed on the CPU. */
  cpu: number[];
}

/** The GPU slots of one MoE layer and the scores of its experts. */
export class LayerExpertCache {
  private readonly occupant: Int32Array;
  private readonly slotOfExpert: Int32Array;
  private readonly score: Float64Array;
  private readonly scoredAt: Float64Array;
  private now = 0;
  private readonly decay: number;

  constructor(
    readonly nExpert: number,
    readonly nSlots: number,
    private readonly o: CachePolicyOptions = DEFAULT_CACHE_POLICY,
    /** Experts in the slots at the start ([nSlots], -1: empty); default the first nSlots experts. */
    initial?: ArrayLike<number>,
  ) {
    if (nSlots < 0 || nSlots > nExpert) throw new RangeError(`${nSlots} slots for ${nExpert} experts`);
    this.occupant = new Int32Array(nSlots).fill(-1);
    this.slotOfExpert = new Int32Array(nExpert).fill(-1);
    for (let s = 0; s < nSlots; s++) {
      const e = initial ? initial[s]! : s;
      if (e >= 0) this.place(e, s);
    }
    this.score = new Float64Array(nExpert);
    this.scoredAt = new Float64Array(nExpert);
    this.decay = Math.pow(2, -1 / Math.max(o.halfLife, 1e-9));
  }

  /** The slot expert `e` holds, or -1. */
  slotOf(e: number): number {
    return this.slotOfExpert[e]!;
  }

  /** The expert in slot `s`, or -1. */
  expertIn(s: number): number {
    return this.occupant[s]!;
  }

  /** The expert's score now. */
  scoreOf(e: number): number {
    return this.score[e]! * Math.pow(this.decay, this.now - this.scoredAt[e]!);
  }

  private place(e: number, s: number): number {
    const old = this.occupant[s]!;
    if (old >= 0) this.slotOfExpert[old] = -1;
    if (this.slotOfExpert[e]! >= 0) throw new Error(`expert ${e} already holds slot ${this.slotOfExpert[e]}`);
    this.occupant[s] = e;
    this.slotOfExpert[e] = s;
    return old;
  }

  /** Resident experts not in `keep`, coldest first. */
  private victims(keep: (e: number) => boolean): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.nSlots; s++) {
      const e = this.occupant[s]!;
      if (e < 0 || !keep(e)) out.push(s);
    }
    // empty slots first, then by score, then by slot (deterministic)
    return out.sort((a, b) => {
      const ea = this.occupant[a]!;
      const eb = this.occupant[b]!;
      if (ea < 0 || eb < 0) return ea < 0 && eb < 0 ? a - b : ea < 0 ? -1 : 1;
      return this.scoreOf(ea) - this.scoreOf(eb) || a - b;
    });
  }

  /**
   * One step of the layer: `tokens[e]` is how many of the step's tokens were routed to expert e. Updates the
   * scores, then decides where each routed expert runs (and applies the uploads to the slot table).
   */
  planStep(tokens: ArrayLike<number>): StepPlan {
    this.now++;
    const routed: number[] = [];
    for (let e = 0; e < this.nExpert; e++) {
      const c = tokens[e]!;
      if (c <= 0) continue;
      routed.push(e);
      this.score[e] = this.scoreOf(e) + c;
      this.scoredAt[e] = this.now;
    }
    const slotOf = new Int32Array(this.nExpert).fill(-1);
    const resident: number[] = [];
    const missing: number[] = [];
    for (const e of routed) (this.slotOfExpert[e]! >= 0 ? resident : missing).push(e);
    for (const e of resident) slotOf[e] = this.slotOfExpert[e]!;
    // most tokens first, then the hotter expert, then the lower index
    missing.sort((a, b) => tokens[b]! - tokens[a]! || this.scoreOf(b) - this.scoreOf(a) || a - b);
    const victims = this.victims((e) => tokens[e]! > 0);
    const uploads: SlotUpload[] = [];
    const cpu: number[] = [];
    let migrations = 0;
    for (const e of missing) {
      const s = victims[0];
      let reason: UploadReason | undefined;
      if (s !== undefined) {
        const v = this.occupant[s]!;
        if (tokens[e]! >= this.o.uploadMinTokens) reason = 'batch';
        else if (migrations < this.o.maxMigrationsPerStep && (v < 0 || this.scoreOf(e) > this.o.migrateFactor * this.scoreOf(v))) reason = 'migrate';
      }
      if (reason === undefined) {
        cpu.push(e);
        continue;
      }
      victims.shift();
      if (reason === 'migrate') migrations++;
      uploads.push({ expert: e, slot: s!, evicted: this.place(e, s!), reason });
      slotOf[e] = s!;
    }
    return { slotOf, resident, uploads, cpu };
  }

  /**
   * Prefetch for the layer's next step: `predicted[e]` tokens are expected to route to expert e, right with
   * probability `accuracy`. Returns (and applies) the uploads worth starting now.
   */
  planPrefetch(predicted: ArrayLike<number>, accuracy: number): SlotUpload[] {
    if (!this.o.prefetch) return [];
    const want: number[] = [];
    for (let e = 0; e < this.nExpert; e++) if (predicted[e]! > 0 && this.slotOfExpert[e]! < 0) want.push(e);
    const expected = (e: number) => this.scoreOf(e) + accuracy * predicted[e]!;
    want.sort((a, b) => expected(b) - expected(a) || a - b);
    const victims = this.victims((e) => predicted[e]! > 0);
    const uploads: SlotUpload[] = [];
    for (const e of want) {
      if (uploads.length >= this.o.maxPrefetchPerStep) break;
      const s = victims[0];
      if (s === undefined) break;
      const v = this.occupant[s]!;
      if (v >= 0 && !(expected(e) > this.o.migrateFactor * expected(v))) break; // victims only get hotter
      victims.shift();
      uploads.push({ expert: e, slot: s, evicted: this.place(e, s), reason: 'prefetch' });
    }
    return uploads;
  }

  /** Empties slot `s` (an upload into it failed: what it holds is no expert). */
  emptySlot(s: number): void {
    const e = this.occupant[s]!;
    if (e >= 0) this.slotOfExpert[e] = -1;
    this.occupant[s] = -1;
  }
}
