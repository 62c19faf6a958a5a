/**
 * Which KV slot belongs to whom. A document keeps its slot between requests (so its cache is reused by
 * longest common prefix); chat has its own. A slot in use by an unfinished generation is pinned; a new
 * owner gets a free slot, else the least recently used unpinned one, and only when every slot is
 * pinned (fewer slots than generations in flight) a pinned one, whose generation then notices the
 * changed epoch and re-evaluates its tokens when it resumes. Session.tokens always says truthfully
 * what a slot's cache holds, so ownership is only about keeping the right caches warm.
 */

export interface SlotLease {
  slot: number;
  /** Changes whenever the slot changes owner or is reset. */
  epoch: number;
}

export interface SlotInfo {
  slot: number;
  owner: string | null;
  pins: number;
}

export class SlotPool {
  private readonly owners: (string | null)[];
  private readonly pins: number[];
  private readonly lastUse: number[];
  private readonly epochs: number[];
  private clock = 0;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`slot count must be a positive integer, got ${size}`);
    this.owners = new Array(size).fill(null);
    this.pins = new Array(size).fill(0);
    this.lastUse = new Array(size).fill(0);
    this.epochs = new Array(size).fill(0);
  }

  /** A slot for `owner`, pinned until release(). */
  acquire(owner: string): SlotLease {
    let slot = this.owners.indexOf(owner);
    if (slot < 0) {
      slot = this.pick();
      this.owners[slot] = owner;
      this.epochs[slot]!++;
    }
    this.pins[slot]!++;
    this.lastUse[slot] = ++this.clock;
    return { slot, epoch: this.epochs[slot]! };
  }

  /** Whether `lease` still holds its slot (same owner, not reset). */
  holds(lease: SlotLease): boolean {
    return this.epochs[lease.slot] === lease.epoch;
  }

  release(lease: SlotLease): void {
    if (this.pins[lease.slot]! > 0) this.pins[lease.slot]!--;
  }

  /** The owner is gone (document closed): its slot becomes free. Returns the slot, if it had one. */
  forget(owner: string): number | undefined {
    const slot = this.owners.indexOf(owner);
    if (slot < 0) return undefined;
    this.owners[slot] = null;
    this.epochs[slot]!++;
    return slot;
  }

  ownerOf(slot: number): string | null {
    return this.owners[slot] ?? null;
  }

  slots(): SlotInfo[] {
    return this.owners.map((owner, slot) => ({ slot, owner, pins: this.pins[slot]! }));
  }

  private pick(): number {
    const free = this.owners.indexOf(null);
    if (free >= 0) return free;
    let best = -1;
    for (let i = 0; i < this.size; i++) {
      if (this.pins[i] === 0 && (best < 0 || this.lastUse[i]! < this.lastUse[best]!)) best = i;
    }
    if (best >= 0) return best;
    for (let i = 0; i < this.size; i++) if (best < 0 || this.lastUse[i]! < this.lastUse[best]!) best = i;
    return best;
  }
}
