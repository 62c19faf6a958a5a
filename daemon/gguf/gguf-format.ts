/** GGUF container constants and value types shared by the reader and the writer (see ggml/src/gguf.cpp). */
import { GgufValueType } from './ggml-types.js';

/** "GGUF" as the first four bytes of the file. */
export const GGUF_MAGIC = 'GGUF';
export const GGUF_VERSION = 3;
export const GGUF_DEFAULT_ALIGNMENT = 32;
export const GGUF_KEY_ALIGNMENT = 'general.alignment';
/** ggml's GGML_MAX_NAME is 64 including the terminating NUL. */
export const GGML_MAX_NAME = 64;
export const GGML_MAX_DIMS = 4;

/**
 * A decoded metadata value. Numeric arrays are decoded as typed arrays (Uint8Array … Float64Array,
 * BigInt64Array/BigUint64Array for 64-bit integers; BOOL arrays as boolean[]); string arrays as string[].
 * Scalar UINT64/INT64 are bigint; other integers and floats are number.
 */
export type GgufValue =
  | number
  | bigint
  | boolean
  | string
  | GgufValue[]
  | Uint8Array
  | Int8Array
  | Uint16Array
  | Int16Array
  | Uint32Array
  | Int32Array
  | Float32Array
  | Float64Array
  | BigUint64Array
  | BigInt64Array;

/** Byte size of a fixed-size scalar value type; undefined for STRING and ARRAY. */
export function ggufScalarSize(t: GgufValueType): number | undefined {
  switch (t) {
    case GgufValueType.UINT8:
    case GgufValueType.INT8:
    case GgufValueType.BOOL:
      return 1;
    case GgufValueType.UINT16:
    case GgufValueType.INT16:
      return 2;
    case GgufValueType.UINT32:
    case GgufValueType.INT32:
    case GgufValueType.FLOAT32:
      return 4;
    case GgufValueType.UINT64:
    case GgufValueType.INT64:
    case GgufValueType.FLOAT64:
      return 8;
    default:
      return undefined;
  }
}

export function ggufValueTypeName(t: number): string {
  return (GgufValueType as unknown as Record<number, string>)[t] ?? `unknown(${t})`;
}

export function isValidGgufValueType(t: number): t is GgufValueType {
  return Number.isInteger(t) && t >= 0 && t <= GgufValueType.FLOAT64;
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0 && n <= 2 ** 30;
}
