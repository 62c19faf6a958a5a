/**
 * Host byte arrays for staging weight uploads (a chunk read from the file, and its GPU planes), reused from one
 * upload to the next. Under offload an expert is uploaded per token; without a pool every upload allocated (and
 * zeroed) its staging again, several MB per matrix, for the garbage collector to take back. Fills may overlap (a
 * prefetch while a step uploads), so each one takes arrays of its own and gives them back when done;
 * `queue.writeBuffer` has copied the data by the time it returns, so an array given back can be reused at once.
 */
export class StagingPool {
  private readonly idle: ArrayBuffer[] = [];
  /** Arrays allocated so far (a steady stream of uploads allocates none). */
  allocations = 0;

  /** `maxIdle`: arrays kept between uploads; more given back are dropped. */
  constructor(private readonly maxIdle = 8) {}

  /** A zero-offset array of exactly `bytes` (not zeroed: the caller overwrites what it uses). */
  take(bytes: number): Uint8Array<ArrayBuffer> {
    let best = -1;
    for (let i = 0; i < this.idle.length; i++) {
      const size = this.idle[i]!.byteLength;
      if (size >= bytes && (best < 0 || size < this.idle[best]!.byteLength)) best = i;
    }
    if (best >= 0) return new Uint8Array(this.idle.splice(best, 1)[0]!, 0, bytes);
    this.allocations++;
    return new Uint8Array(bytes);
  }

  /** Gives arrays from take() back. */
  give(...arrays: Uint8Array<ArrayBuffer>[]): void {
    for (const a of arrays) {
      if (this.idle.length < this.maxIdle) this.idle.push(a.buffer);
      else {
        // keep the larger ones: a later large upload then needs no allocation
        const smallest = this.idle.reduce((s, b, i) => (b.byteLength < this.idle[s]!.byteLength ? i : s), 0);
        if (this.idle[smallest]!.byteLength < a.buffer.byteLength) this.idle[smallest] = a.buffer;
      }
    }
  }

  /** Bytes held between uploads. */
  get idleBytes(): number {
    return this.idle.reduce((n, b) => n + b.byteLength, 0);
  }
}
