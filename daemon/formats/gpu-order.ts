/**
 * Bit orders the WebGPU backend stores the K-quants' quants in (their `gpuReorder`, the GPU half of each
 * format's layout rule): every 32-value chunk (a sub-block of 32, or two of 16) gets its bits in a few
 * contiguous bytes, in orders the WGSL block functions unpack with whole-word operations. The matmul reads
 * a chunk as 32 int8 in two groups of four words, q0 (values 0–15: word i holds values 4i..4i+3, one per
 * byte) and q1 (values 16–31).
 *
 *   nibbles    16 bytes: byte j holds value j in its low nibble and value j + 16 in its high one (Q4_0's
 *              order): q0 = w & 0x0F0F0F0F, q1 = (w >> 4) & 0x0F0F0F0F, one vec4 word each.
 *   2-bit      8 bytes = two words H0 (values 0–15), H1 (values 16–31): byte b of H0 holds values b, 4 + b,
 *              8 + b, 12 + b at bits 0, 2, 4, 6: q0 word i = (H0 >> 2i) & 0x03030303.
 *   1-bit      4 bytes, a little-endian word whose bit v is value v's bit (Q5_0's qh).
 * In the files, the field of chunk value v (0..31) is always (src[from + v] >> shift), masked to its width:
 * each packer takes that byte run and shift.
 */

export function packNibbles(src: Uint8Array, from: number, shift: number, dst: Uint8Array, at: number): void {
  for (let j = 0; j < 16; j++) dst[at + j] = ((src[from + j]! >>> shift) & 0x0f) | (((src[from + j + 16]! >>> shift) & 0x0f) << 4);
}

export function pack2Bits(src: Uint8Array, from: number, shift: number, dst: Uint8Array, at: number): void {
  for (let half = 0; half < 2; half++) {
    for (let b = 0; b < 4; b++) {
      let byte = 0;
      for (let i = 0; i < 4; i++) byte |= ((src[from + 16 * half + 4 * i + b]! >>> shift) & 3) << (2 * i);
      dst[at + 4 * half + b] = byte;
    }
  }
}

export function pack1Bits(src: Uint8Array, from: number, shift: number, dst: Uint8Array, at: number): void {
  for (let k = 0; k < 4; k++) {
    let byte = 0;
    for (let i = 0; i < 8; i++) byte |= ((src[from + 8 * k + i]! >>> shift) & 1) << i;
    dst[at + k] = byte;
  }
}

/** n bytes as they are (a loop: cheaper than a subarray per block). */
export function copyBytes(src: Uint8Array, from: number, n: number, dst: Uint8Array, at: number): void {
  for (let i = 0; i < n; i++) dst[at + i] = src[from + i]!;
}
