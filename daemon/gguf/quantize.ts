/**
 * Row quantizers / dequantizers with ggml's exact behaviour, over the format table (daemon/formats):
 * dequantisation for every format the engine runs, quantisation for those with a reference quantizer.
 * The f16 helpers live in formats/half.ts and are re-exported here for existing callers.
 */
import { formatOf, FORMATS } from '../formats/table.js';
import type { TensorFormat } from '../formats/format.js';
import { GgmlType, ggmlTypeName } from './ggml-types.js';
import { GgufError } from './gguf-error.js';

export { f16BitsToF32, f32ToF16Bits, roundToF16 } from '../formats/half.js';

/** The types quantizeRow handles (every format with a reference quantizer). */
export const QUANT_TYPES: readonly GgmlType[] = [...FORMATS.values()].filter((f) => f.quantize).map((f) => f.type);

function formatFor(type: GgmlType, n: number, what: string, needQuantize: boolean): TensorFormat {
  const f = formatOf(type);
  if (!f || (needQuantize && !f.quantize)) {
    const names = needQuantize ? QUANT_TYPES.map(ggmlTypeName) : [...FORMATS.values()].map((x) => x.name);
    throw new GgufError('UNSUPPORTED_TYPE', `${what}: type ${ggmlTypeName(type)} is not supported (supported: ${names.join(', ')})`);
  }
  if (!Number.isSafeInteger(n) || n < 0 || n % f.blockSize !== 0) {
    throw new GgufError('BAD_ARGUMENT', `${what}: ${n} elements is not a whole number of ${f.name} blocks of ${f.blockSize}`);
  }
  return f;
}

/** Bytes produced by quantizing `n` elements to `type`. */
export function quantizedSize(type: GgmlType, n: number): number {
  const f = formatFor(type, n, 'quantizedSize', false);
  return (n / f.blockSize) * f.typeSize;
}

/**
 * Quantizes `src` (any whole number of blocks; typically one or more rows) into `dst` starting at byte
 * `dstOffset`. Returns the number of bytes written.
 */
export function quantizeInto(type: GgmlType, src: Float32Array, dst: Uint8Array, dstOffset = 0): number {
  const f = formatFor(type, src.length, 'quantizeRow', true);
  const size = (src.length / f.blockSize) * f.typeSize;
  if (dstOffset + size > dst.length) throw new GgufError('BAD_ARGUMENT', `quantizeRow: destination has ${dst.length - dstOffset} bytes, needs ${size}`);
  f.quantize!(src, dst, dstOffset);
  return size;
}

/** Quantizes `src` (a whole number of blocks) to `type`; returns the raw bytes as stored in GGUF. */
export function quantizeRow(type: GgmlType, src: Float32Array): Uint8Array {
  const out = new Uint8Array(quantizedSize(type, src.length));
  quantizeInto(type, src, out, 0);
  return out;
}

/** Dequantizes `n` elements of `type` from `bytes` (ggml's dequantize_row_* / fp16→fp32). */
export function dequantizeRow(type: GgmlType, bytes: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  dequantizeInto(type, bytes, n, out, 0);
  return out;
}

/** Dequantizes `n` elements of `type` from `bytes` into `dst[dstOffset ..]`. */
export function dequantizeInto(type: GgmlType, bytes: Uint8Array, n: number, dst: Float32Array, dstOffset = 0): void {
  const f = formatFor(type, n, 'dequantizeRow', false);
  const size = (n / f.blockSize) * f.typeSize;
  if (bytes.length < size) throw new GgufError('BAD_ARGUMENT', `dequantizeRow: ${n} ${f.name} elements need ${size} bytes, got ${bytes.length}`);
  if (dstOffset + n > dst.length) throw new GgufError('BAD_ARGUMENT', `dequantizeRow: destination has room for ${dst.length - dstOffset} elements, needs ${n}`);
  f.dequantize(bytes, n / f.blockSize, dst, dstOffset);
}
