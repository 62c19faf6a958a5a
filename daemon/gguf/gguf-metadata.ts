/**
 * Typed metadata accessors. Each throws GgufError MISSING_KEY when the key is absent and no default
 * is given, and BAD_VALUE_TYPE (naming the key, the expected and the found type) when it holds the
 * wrong kind of value.
 *
 * Strictness: llama.cpp v0.4.0 (GGUFMeta::GKV::get_kv in src/llama-model-loader.cpp) demands the exact
 * type (UINT32 for u32 keys, FLOAT32 for f32 keys). By default these accessors are more lenient: any
 * integer type whose value fits is accepted for u32 keys, FLOAT32 or FLOAT64 for f32 keys. Pass
 * `{ strict: true }` to get llama.cpp's behaviour (e.g. to predict whether llama.cpp can load a file).
 */
import { GgufValueType } from './ggml-types.js';
import { GgufError } from './gguf-error.js';
import { ggufValueTypeName } from './gguf-format.js';
import type { GgufValue } from './gguf-format.js';

/** The part of a GgufFile the accessors need. */
export interface GgufMetaSource {
  path?: string;
  metadata: Map<string, GgufValue>;
  metadataTypes: Map<string, GgufValueType>;
  metadataArrayTypes?: Map<string, GgufValueType>;
}

export interface MetaOptions {
  /** Require exactly the GGUF type llama.cpp requires. */
  strict?: boolean;
}

const INTEGER_TYPES: readonly GgufValueType[] = [
  GgufValueType.UINT8, GgufValueType.INT8, GgufValueType.UINT16, GgufValueType.INT16,
  GgufValueType.UINT32, GgufValueType.INT32, GgufValueType.UINT64, GgufValueType.INT64,
];

function missing(key: string): GgufError {
  return new GgufError('MISSING_KEY', `required metadata key '${key}' is missing`);
}

function typeName(src: GgufMetaSource, key: string): string {
  const t = src.metadataTypes.get(key)!;
  if (t === GgufValueType.ARRAY) {
    const et = src.metadataArrayTypes?.get(key);
    return `ARRAY[${et === undefined ? '?' : ggufValueTypeName(et)}]`;
  }
  return ggufValueTypeName(t);
}

function wrongType(src: GgufMetaSource, key: string, expected: string): GgufError {
  return new GgufError('BAD_VALUE_TYPE', `metadata key '${key}' has type ${typeName(src, key)}, expected ${expected}`);
}

function toU32(src: GgufMetaSource, key: string, t: GgufValueType, v: unknown, strict: boolean): number {
  if (strict ? t !== GgufValueType.UINT32 : !INTEGER_TYPES.includes(t)) throw wrongType(src, key, strict ? 'UINT32' : 'an integer (UINT32)');
  const n = typeof v === 'bigint' ? (v >= 0n && v <= 0xffffffffn ? Number(v) : -1) : (v as number);
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) {
    throw new GgufError('BAD_VALUE_TYPE', `metadata key '${key}' = ${String(v)} does not fit in UINT32`);
  }
  return n;
}

export function metaHas(src: GgufMetaSource, key: string): boolean {
  return src.metadata.has(key);
}

/** An unsigned 32-bit integer key. */
export function metaU32(src: GgufMetaSource, key: string, def?: number, opts: MetaOptions = {}): number {
  if (!src.metadata.has(key)) {
    if (def === undefined) throw missing(key);
    return def;
  }
  return toU32(src, key, src.metadataTypes.get(key)!, src.metadata.get(key), opts.strict ?? false);
}

/** A 32-bit float key (FLOAT64 accepted unless strict; the value is rounded to f32 like a C float). */
export function metaF32(src: GgufMetaSource, key: string, def?: number, opts: MetaOptions = {}): number {
  if (!src.metadata.has(key)) {
    if (def === undefined) throw missing(key);
    return def;
  }
  const t = src.metadataTypes.get(key)!;
  const ok = t === GgufValueType.FLOAT32 || (!opts.strict && t === GgufValueType.FLOAT64);
  if (!ok) throw wrongType(src, key, 'FLOAT32');
  return Math.fround(src.metadata.get(key) as number);
}

export function metaStr(src: GgufMetaSource, key: string, def?: string): string {
  if (!src.metadata.has(key)) {
    if (def === undefined) throw missing(key);
    return def;
  }
  if (src.metadataTypes.get(key) !== GgufValueType.STRING) throw wrongType(src, key, 'STRING');
  return src.metadata.get(key) as string;
}

export function metaBool(src: GgufMetaSource, key: string, def?: boolean): boolean {
  if (!src.metadata.has(key)) {
    if (def === undefined) throw missing(key);
    return def;
  }
  if (src.metadataTypes.get(key) !== GgufValueType.BOOL) throw wrongType(src, key, 'BOOL');
  return src.metadata.get(key) as boolean;
}

export type GgufArrayValue = Exclude<GgufValue, number | bigint | boolean | string>;

/**
 * An ARRAY key, as decoded by the reader (typed array for numeric elements, string[] / boolean[]).
 * With `elemType`, also checks the element type.
 */
export function metaArray(src: GgufMetaSource, key: string, def?: GgufArrayValue, elemType?: GgufValueType): GgufArrayValue {
  if (!src.metadata.has(key)) {
    if (def === undefined) throw missing(key);
    return def;
  }
  if (src.metadataTypes.get(key) !== GgufValueType.ARRAY) throw wrongType(src, key, elemType === undefined ? 'ARRAY' : `ARRAY[${ggufValueTypeName(elemType)}]`);
  if (elemType !== undefined && src.metadataArrayTypes?.get(key) !== elemType) throw wrongType(src, key, `ARRAY[${ggufValueTypeName(elemType)}]`);
  return src.metadata.get(key) as GgufArrayValue;
}

/** A string array key (e.g. tokenizer.ggml.tokens / merges). */
export function metaStrArray(src: GgufMetaSource, key: string, def?: string[]): string[] {
  return metaArray(src, key, def, GgufValueType.STRING) as string[];
}

/** A numeric array key as plain numbers (any integer or float element type; 64-bit values must be safe integers). */
export function metaNumArray(src: GgufMetaSource, key: string, def?: number[]): number[] {
  if (!src.metadata.has(key) && def !== undefined) return def;
  const a = metaArray(src, key);
  const et = src.metadataArrayTypes?.get(key);
  if (et === GgufValueType.STRING || et === GgufValueType.BOOL) throw wrongType(src, key, 'a numeric ARRAY');
  return Array.from(a as ArrayLike<number | bigint>, (v, i) => {
    if (typeof v === 'bigint') {
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < -BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new GgufError('BAD_VALUE_TYPE', `metadata key '${key}'[${i}] = ${v} is not a safe integer`);
      }
      return Number(v);
    }
    return v;
  });
}

/**
 * llama.cpp's get_key_or_arr for u32 keys (attention.head_count, feed_forward_length, …): either a
 * scalar applied to all `n` layers or an array of exactly `n` integers. Returns one value per layer.
 */
export function metaU32PerLayer(src: GgufMetaSource, key: string, n: number, def?: number, opts: MetaOptions = {}): number[] {
  if (!src.metadata.has(key)) {
    if (def === undefined) throw missing(key);
    return new Array<number>(n).fill(def);
  }
  if (src.metadataTypes.get(key) !== GgufValueType.ARRAY) return new Array<number>(n).fill(metaU32(src, key, undefined, opts));
  const et = src.metadataArrayTypes?.get(key);
  const a = metaArray(src, key) as ArrayLike<number | bigint>;
  if (et === undefined || (opts.strict ? et !== GgufValueType.UINT32 && et !== GgufValueType.INT32 : !INTEGER_TYPES.includes(et))) {
    throw wrongType(src, key, 'UINT32 or an integer ARRAY');
  }
  if (a.length !== n) {
    throw new GgufError('BAD_VALUE_TYPE', `metadata key '${key}' has wrong array length: expected ${n} (one per layer), got ${a.length}`);
  }
  return Array.from(a, (v, i) => toU32(src, `${key}[${i}]`, et, v, false));
}
