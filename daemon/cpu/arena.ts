/**
 * A bump allocator over one rank's WebAssembly memory: weights, KV cache, activations and scratch are
 * placed once, at load, above the kernel module's own data; the memory grows to fit. wasm32 addresses
 * stop at 4 GiB, which is why the CPU backend splits big models over more ranks.
 */
export const WASM_PAGE = 65536;
export const MAX_WASM_BYTES = 65536 * WASM_PAGE;

export class ArenaFullError extends Error {
  override name = 'ArenaFullError';
}

export class Arena {
  constructor(
    private readonly memory: WebAssembly.Memory,
    private top: number,
  ) {}

  get used(): number {
    return this.top;
  }

  /** `bytes` bytes aligned to `align`; grows the memory when needed. */
  alloc(bytes: number, align = 64, what = 'buffer'): number {
    const p = Math.ceil(this.top / align) * align;
    const end = p + Math.max(bytes, 0);
    if (end > MAX_WASM_BYTES) throw new ArenaFullError(`${what}: ${end} bytes exceed a WebAssembly memory's 4 GiB`);
    const have = this.memory.buffer.byteLength;
    if (end > have) this.memory.grow(Math.ceil((end - have) / WASM_PAGE));
    this.top = end;
    return p;
  }
}
