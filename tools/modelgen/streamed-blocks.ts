/**
 * Random but valid Q4_0 / Q8_0 blocks for models of many GB (the Grok-1 slice: ~6.5 GB in Q4_0, ~12 GB in
 * Q8_0), produced chunk by chunk so a tensor is never held whole, neither as f32 nor as blocks.
 *
 * The bytes come from AES-128-CTR over zeros (node:crypto, hardware AES: ~1 GB/s here, where drawing and
 * quantizing Gaussian f32 values runs at tens of MB/s): a deterministic stream keyed by the model's seed and
 * the tensor's name, identical on every machine. Each block's quants are those random bytes as they come
 * (uniform nibbles or int8); its f16 scale is then overwritten by one of 256 values picked by the block's
 * first random byte: either sign (so a row has no mean offset) and a magnitude of std/rms·(0.8..1.2), where
 * rms is the root mean square of the format's uniform quant (Q4_0: nibble − 8, √21.5; Q8_0: int8, √5461.5),
 * so the dequantised weights have a root mean square of ≈ std, the spread of the generator's Gaussian
 * weights (std = gain/√fan_in).
 */
import { createCipheriv, createHash } from 'node:crypto';
import { writeF16 } from '../../daemon/formats/block-io.js';
import { requireFormat } from '../../daemon/formats/table.js';
import { GgmlType, ggmlTypeName } from '../../daemon/gguf/ggml-types.js';

/** E[q²]^½ of each streamed format's quant distribution (uniform quants), and where its f16 scale sits. */
const STREAMED: Partial<Record<GgmlType, { rms: number; scaleAt: number }>> = {
  [GgmlType.Q4_0]: { rms: Math.sqrt(21.5), scaleAt: 0 }, // x = (nibble − 8)·d
  [GgmlType.Q8_0]: { rms: Math.sqrt(5461.5), scaleAt: 0 }, // x = q·d, q ∈ −128..127
};

export const STREAMED_BLOCK_TYPES: readonly GgmlType[] = Object.keys(STREAMED).map(Number);

/** Bytes per chunk (rounded down to whole blocks). */
const CHUNK_BYTES = 16 << 20;

/** The 256 f16 scales a block may get, as little-endian byte pairs [lo0, hi0, lo1, hi1, ...]. */
export function scaleTable(rms: number, std: number): Uint8Array {
  const t = new Uint8Array(512);
  for (let b = 0; b < 256; b++) {
    const magnitude = (std / rms) * (0.8 + (0.4 * (b >>> 1)) / 127);
    writeF16(t, 2 * b, b & 1 ? -magnitude : magnitude);
  }
  return t;
}

/** The AES key and counter block of a tensor's stream: the first 32 bytes of sha256(seed, name). */
function streamKey(seed: number, name: string): { key: Buffer; iv: Buffer } {
  const h = createHash('sha256').update(`moecode-streamed-blocks/${seed}/${name}`).digest();
  return { key: h.subarray(0, 16), iv: h.subarray(16, 32) };
}

/**
 * `nElements` values of `type` as consecutive chunks of whole blocks (the last chunk may be shorter),
 * with rms ≈ std; deterministic in (seed, name).
 */
export function* streamedBlocks(type: GgmlType, nElements: number, std: number, seed: number, name: string): Generator<Uint8Array> {
  const s = STREAMED[type];
  if (!s) throw new Error(`tensor ${name}: no streamed block generator for ${ggmlTypeName(type)} (have ${STREAMED_BLOCK_TYPES.map(ggmlTypeName).join(', ')})`);
  const f = requireFormat(type);
  if (nElements % f.blockSize) throw new Error(`tensor ${name}: ${nElements} values is not a whole number of ${f.name} blocks of ${f.blockSize}`);
  if (!(Number.isFinite(std) && std > 0)) throw new Error(`tensor ${name}: std must be a positive number, got ${std}`);
  const table = scaleTable(s.rms, std);
  const { key, iv } = streamKey(seed, name);
  const cipher = createCipheriv('aes-128-ctr', key, iv);
  const blocksPerChunk = Math.floor(CHUNK_BYTES / f.typeSize);
  const zeros = Buffer.alloc(blocksPerChunk * f.typeSize);
  const total = nElements / f.blockSize;
  for (let done = 0; done < total; done += blocksPerChunk) {
    const n = Math.min(blocksPerChunk, total - done);
    const chunk: Uint8Array = cipher.update(n === blocksPerChunk ? zeros : zeros.subarray(0, n * f.typeSize));
    for (let at = s.scaleAt, end = n * f.typeSize; at < end; at += f.typeSize) {
      const b = chunk[at]! << 1;
      chunk[at] = table[b]!;
      chunk[at + 1] = table[b + 1]!;
    }
    yield chunk;
  }
}
