/**
 * Streaming GGUF v3 writer (layout as ggml/src/gguf.cpp writes it): header, key/value pairs, tensor
 * infos, padding to `alignment`, then each tensor's data padded to `alignment`. The header is built in
 * memory (it holds only metadata); tensor data is requested lazily one tensor at a time, quantized in
 * bounded chunks and streamed to `path + '.tmp'`, which is renamed to `path` once complete.
 */
import { open, rename, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { GGML_BLOCK, GgmlType, GgufValueType, ggmlByteSize, ggmlTypeName } from './ggml-types.js';
import { GgufError } from './gguf-error.js';
import {
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_KEY_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VERSION,
  alignUp,
  ggufValueTypeName,
  isPowerOfTwo,
} from './gguf-format.js';
import { QUANT_TYPES, quantizeInto, quantizedSize } from './quantize.js';
import { MAX_SPLIT_PARTS, SPLIT_KEY, splitPartPath } from './gguf-split.js';

export type GgufMetaEntry = { key: string; type: GgufValueType; value: unknown; arrayType?: GgufValueType };

type ArrayLikeOf<T> = ArrayLike<T> | Iterable<T>;

function arr(key: string, arrayType: GgufValueType, value: unknown): GgufMetaEntry {
  return { key, type: GgufValueType.ARRAY, arrayType, value };
}

/** Constructors for metadata entries. */
export const meta = {
  u8: (key: string, v: number): GgufMetaEntry => ({ key, type: GgufValueType.UINT8, value: v }),
  i8: (key: string, v: number): GgufMetaEntry => ({ key, type: GgufValueType.INT8, value: v }),
  u16: (key: string, v: number): GgufMetaEntry => ({ key, type: GgufValueType.UINT16, value: v }),
  i16: (key: string, v: number): GgufMetaEntry => ({ key, type: GgufValueType.INT16, value: v }),
  u32: (key: string, v: number): GgufMetaEntry => ({ key, type: GgufValueType.UINT32, value: v }),
  i32: (key: string, v: number): GgufMetaEntry => ({ key, type: GgufValueType.INT32, value: v }),
  f32: (key: string, v: number): GgufMetaEntry => ({ key, type: GgufValueType.FLOAT32, value: v }),
  f64: (key: string, v: number): GgufMetaEntry => ({ key, type: GgufValueType.FLOAT64, value: v }),
  bool: (key: string, v: boolean): GgufMetaEntry => ({ key, type: GgufValueType.BOOL, value: v }),
  str: (key: string, v: string): GgufMetaEntry => ({ key, type: GgufValueType.STRING, value: v }),
  u64: (key: string, v: number | bigint): GgufMetaEntry => ({ key, type: GgufValueType.UINT64, value: v }),
  i64: (key: string, v: number | bigint): GgufMetaEntry => ({ key, type: GgufValueType.INT64, value: v }),
  arrStr: (key: string, v: ArrayLikeOf<string>): GgufMetaEntry => arr(key, GgufValueType.STRING, v),
  arrI32: (key: string, v: ArrayLikeOf<number>): GgufMetaEntry => arr(key, GgufValueType.INT32, v),
  arrU32: (key: string, v: ArrayLikeOf<number>): GgufMetaEntry => arr(key, GgufValueType.UINT32, v),
  arrF32: (key: string, v: ArrayLikeOf<number>): GgufMetaEntry => arr(key, GgufValueType.FLOAT32, v),
  arrU8: (key: string, v: ArrayLikeOf<number>): GgufMetaEntry => arr(key, GgufValueType.UINT8, v),
  arrBool: (key: string, v: ArrayLikeOf<boolean>): GgufMetaEntry => arr(key, GgufValueType.BOOL, v),
};

export interface GgufWriteTensor {
  name: string;
  /** ggml ne[], innermost first. */
  dims: number[];
  type: GgmlType;
  /**
   * f32 values (nElements of them, row-major with dims[0] innermost), quantized by the writer to `type`;
   * with `raw`, the tensor's bytes exactly as stored (any type with a known block layout), whole or as an
   * iterable of consecutive chunks (each written and dropped before the next is drawn: tensors of many GB).
   */
  data: () => Float32Array | Uint8Array | Iterable<Uint8Array> | Promise<Float32Array | Uint8Array | Iterable<Uint8Array>>;
  /** data() returns the stored bytes (a Uint8Array or chunks of it), e.g. blocks of a type the writer cannot quantize to. */
  raw?: boolean;
}

export interface GgufWriteOptions {
  /** Data alignment (power of two). Default: the `general.alignment` entry if given, else 32. */
  alignment?: number;
  /**
   * Write the header and tensor infos only, then extend the file to its full size without calling any
   * data(): a sparse file whose tensor data reads as zeros (checks of a layout too large to generate).
   */
  headerOnly?: boolean;
}

/** Growable little-endian byte buffer for the header. */
class ByteSink {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  private static readonly enc = new TextEncoder();
  length = 0;

  private reserve(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }
  u8(v: number): void { this.reserve(1); this.dv.setUint8(this.length, v); this.length += 1; }
  i8(v: number): void { this.reserve(1); this.dv.setInt8(this.length, v); this.length += 1; }
  u16(v: number): void { this.reserve(2); this.dv.setUint16(this.length, v, true); this.length += 2; }
  i16(v: number): void { this.reserve(2); this.dv.setInt16(this.length, v, true); this.length += 2; }
  u32(v: number): void { this.reserve(4); this.dv.setUint32(this.length, v, true); this.length += 4; }
  i32(v: number): void { this.reserve(4); this.dv.setInt32(this.length, v, true); this.length += 4; }
  f32(v: number): void { this.reserve(4); this.dv.setFloat32(this.length, v, true); this.length += 4; }
  f64(v: number): void { this.reserve(8); this.dv.setFloat64(this.length, v, true); this.length += 8; }
  u64(v: bigint): void { this.reserve(8); this.dv.setBigUint64(this.length, v, true); this.length += 8; }
  i64(v: bigint): void { this.reserve(8); this.dv.setBigInt64(this.length, v, true); this.length += 8; }
  str(s: string): void {
    // worst case 3 bytes per UTF-16 unit
    this.reserve(8 + s.length * 3);
    const { written } = ByteSink.enc.encodeInto(s, this.buf.subarray(this.length + 8));
    this.dv.setBigUint64(this.length, BigInt(written), true);
    this.length += 8 + written;
  }
  pad(alignment: number): void {
    const n = alignUp(this.length, alignment) - this.length;
    this.reserve(n);
    this.buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Uint8Array { return this.buf.subarray(0, this.length); }
}

function badValue(key: string, msg: string): GgufError {
  return new GgufError('BAD_VALUE_TYPE', `metadata '${key}': ${msg}`);
}

function checkInt(key: string, t: GgufValueType, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw badValue(key, `${String(v)} is not a valid ${ggufValueTypeName(t)} (integer in [${min}, ${max}])`);
  }
  return v;
}

function checkBig(key: string, t: GgufValueType, v: unknown, signed: boolean): bigint {
  let b: bigint;
  if (typeof v === 'bigint') b = v;
  else if (typeof v === 'number' && Number.isSafeInteger(v)) b = BigInt(v);
  else throw badValue(key, `${String(v)} is not a valid ${ggufValueTypeName(t)} (safe integer or bigint)`);
  const [lo, hi] = signed ? [-(1n << 63n), (1n << 63n) - 1n] : [0n, (1n << 64n) - 1n];
  if (b < lo || b > hi) throw badValue(key, `${b} is out of range for ${ggufValueTypeName(t)}`);
  return b;
}

function writeScalar(sink: ByteSink, key: string, t: GgufValueType, v: unknown): void {
  switch (t) {
    case GgufValueType.UINT8: return sink.u8(checkInt(key, t, v, 0, 0xff));
    case GgufValueType.INT8: return sink.i8(checkInt(key, t, v, -0x80, 0x7f));
    case GgufValueType.UINT16: return sink.u16(checkInt(key, t, v, 0, 0xffff));
    case GgufValueType.INT16: return sink.i16(checkInt(key, t, v, -0x8000, 0x7fff));
    case GgufValueType.UINT32: return sink.u32(checkInt(key, t, v, 0, 0xffffffff));
    case GgufValueType.INT32: return sink.i32(checkInt(key, t, v, -0x80000000, 0x7fffffff));
    case GgufValueType.UINT64: return sink.u64(checkBig(key, t, v, false));
    case GgufValueType.INT64: return sink.i64(checkBig(key, t, v, true));
    case GgufValueType.FLOAT32:
    case GgufValueType.FLOAT64:
      if (typeof v !== 'number') throw badValue(key, `${String(v)} is not a number for ${ggufValueTypeName(t)}`);
      return t === GgufValueType.FLOAT32 ? sink.f32(v) : sink.f64(v);
    case GgufValueType.BOOL:
      if (typeof v !== 'boolean') throw badValue(key, `${String(v)} is not a boolean`);
      return sink.u8(v ? 1 : 0);
    case GgufValueType.STRING:
      if (typeof v !== 'string') throw badValue(key, `${String(v)} is not a string`);
      return sink.str(v);
    default:
      throw badValue(key, `value type ${ggufValueTypeName(t)} cannot be written as a scalar`);
  }
}

function writeEntry(sink: ByteSink, e: GgufMetaEntry): void {
  sink.str(e.key);
  if (e.type === GgufValueType.ARRAY) {
    const at = e.arrayType;
    if (at === undefined || at === GgufValueType.ARRAY || !(at in GgufValueType)) {
      throw badValue(e.key, `array element type ${at === undefined ? 'missing' : ggufValueTypeName(at)} is not allowed`);
    }
    const v = e.value as ArrayLikeOf<unknown> | null | undefined;
    if (v === null || v === undefined || typeof v === 'string' || (typeof (v as ArrayLike<unknown>).length !== 'number' && !(Symbol.iterator in Object(v)))) {
      throw badValue(e.key, 'array value is not an array');
    }
    const items = typeof (v as ArrayLike<unknown>).length === 'number' ? (v as ArrayLike<unknown>) : Array.from(v as Iterable<unknown>);
    sink.u32(GgufValueType.ARRAY);
    sink.u32(at);
    sink.u64(BigInt(items.length));
    for (let i = 0; i < items.length; i++) writeScalar(sink, `${e.key}[${i}]`, at, items[i]);
  } else {
    if (!(e.type in GgufValueType)) throw badValue(e.key, `value type ${e.type} is not a GGUF value type`);
    sink.u32(e.type);
    writeScalar(sink, e.key, e.type, e.value);
  }
}

interface PlannedTensor {
  t: GgufWriteTensor;
  nElements: number;
  byteSize: number;
  offset: number; // relative to the data section
}

const utf8 = new TextEncoder();

function planTensors(tensors: GgufWriteTensor[], alignment: number): PlannedTensor[] {
  const seen = new Set<string>();
  const out: PlannedTensor[] = [];
  let offset = 0;
  for (const t of tensors) {
    const nameBytes = utf8.encode(t.name).length;
    if (nameBytes === 0 || nameBytes >= GGML_MAX_NAME) {
      throw new GgufError('BAD_STRING', `tensor name '${t.name}' must be 1..${GGML_MAX_NAME - 1} bytes, is ${nameBytes}`);
    }
    if (seen.has(t.name)) throw new GgufError('BAD_STRING', `duplicate tensor name '${t.name}'`);
    seen.add(t.name);
    if (!Array.isArray(t.dims) || t.dims.length < 1 || t.dims.length > GGML_MAX_DIMS) {
      throw new GgufError('BAD_SHAPE', `tensor '${t.name}': n_dims must be 1..${GGML_MAX_DIMS}, got [${String(t.dims)}]`);
    }
    let n = 1;
    for (const d of t.dims) {
      if (!Number.isSafeInteger(d) || d <= 0) throw new GgufError('BAD_SHAPE', `tensor '${t.name}': dims [${t.dims.join(', ')}] must be positive integers`);
      n *= d;
    }
    if (!Number.isSafeInteger(n)) throw new GgufError('BAD_SHAPE', `tensor '${t.name}': ${t.dims.join('×')} elements is not a safe integer`);
    if (t.raw ? !GGML_BLOCK[t.type] : !QUANT_TYPES.includes(t.type)) {
      const what = t.raw ? 'has no known block layout for' : 'cannot produce';
      throw new GgufError('UNSUPPORTED_TYPE', `tensor '${t.name}': the writer ${what} type ${ggmlTypeName(t.type)}${t.raw ? '' : ` (supported: ${QUANT_TYPES.map(ggmlTypeName).join(', ')}; others as raw bytes)`}`);
    }
    const block = GGML_BLOCK[t.type]!.blockSize;
    if (t.dims[0]! % block !== 0) {
      throw new GgufError('BAD_SHAPE', `tensor '${t.name}': ne[0] = ${t.dims[0]} is not a multiple of the ${ggmlTypeName(t.type)} block size ${block}`);
    }
    const byteSize = ggmlByteSize(t.type, n);
    out.push({ t, nElements: n, byteSize, offset });
    offset += alignUp(byteSize, alignment);
  }
  return out;
}

async function writeAll(fh: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, done, bytes.length - done, position + done);
    if (bytesWritten <= 0) throw new Error(`write returned ${bytesWritten}`);
    done += bytesWritten;
  }
}

/** Elements quantized per chunk when streaming a tensor (bounded extra memory: ≤ 4 MiB of output). */
const CHUNK_ELEMENTS = 1 << 20;

/**
 * Writes a GGUF v3 file. `tensors[i].data()` is called once per tensor, in order, and its result is
 * dropped before the next tensor is requested.
 */
export async function writeGguf(path: string, metadata: GgufMetaEntry[], tensors: GgufWriteTensor[], opts: GgufWriteOptions = {}): Promise<void> {
  // ---- validate metadata and resolve alignment ----
  const keys = new Set<string>();
  for (const e of metadata) {
    if (typeof e.key !== 'string' || e.key.length === 0) throw new GgufError('BAD_STRING', 'metadata key must be a non-empty string');
    if (keys.has(e.key)) throw new GgufError('BAD_STRING', `duplicate metadata key '${e.key}'`);
    keys.add(e.key);
  }
  const alignEntry = metadata.find((e) => e.key === GGUF_KEY_ALIGNMENT);
  if (alignEntry && alignEntry.type !== GgufValueType.UINT32) {
    throw new GgufError('BAD_VALUE_TYPE', `'${GGUF_KEY_ALIGNMENT}' must be UINT32, got ${ggufValueTypeName(alignEntry.type)}`);
  }
  const metaAlign = alignEntry ? (alignEntry.value as number) : undefined;
  const alignment = opts.alignment ?? metaAlign ?? GGUF_DEFAULT_ALIGNMENT;
  if (!isPowerOfTwo(alignment)) throw new GgufError('BAD_ALIGNMENT', `alignment ${alignment} is not a power of two`);
  if (metaAlign !== undefined && metaAlign !== alignment) {
    throw new GgufError('BAD_ALIGNMENT', `opts.alignment ${alignment} disagrees with metadata '${GGUF_KEY_ALIGNMENT}' = ${metaAlign}`);
  }
  const entries = [...metadata];
  if (!alignEntry && alignment !== GGUF_DEFAULT_ALIGNMENT) entries.push(meta.u32(GGUF_KEY_ALIGNMENT, alignment));

  const planned = planTensors(tensors, alignment);

  // ---- header ----
  const sink = new ByteSink();
  for (const c of GGUF_MAGIC) sink.u8(c.charCodeAt(0));
  sink.u32(GGUF_VERSION);
  sink.u64(BigInt(planned.length));
  sink.u64(BigInt(entries.length));
  for (const e of entries) writeEntry(sink, e);
  for (const p of planned) {
    sink.str(p.t.name);
    sink.u32(p.t.dims.length);
    for (const d of p.t.dims) sink.u64(BigInt(d));
    sink.u32(p.t.type);
    sink.u64(BigInt(p.offset));
  }
  if (planned.length > 0) sink.pad(alignment);
  const dataOffset = sink.length;

  // ---- stream ----
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  let ok = false;
  try {
    await writeAll(fh, sink.bytes(), 0);
    if (opts.headerOnly) {
      const last = planned.at(-1);
      await fh.truncate(last ? dataOffset + last.offset + alignUp(last.byteSize, alignment) : dataOffset);
    }
    const chunkBuf = new Uint8Array(quantizedSize(GgmlType.F32, CHUNK_ELEMENTS));
    for (const p of opts.headerOnly ? [] : planned) {
      if (p.t.raw) {
        const bytes = await p.t.data();
        const wrongSize = (n: number) =>
          new GgufError('BAD_SHAPE', `tensor '${p.t.name}': data() returned ${n} bytes, ${ggmlTypeName(p.t.type)} [${p.t.dims.join(', ')}] needs ${p.byteSize}`);
        if (bytes instanceof Uint8Array) {
          if (bytes.length !== p.byteSize) throw wrongSize(bytes.length);
          await writeAll(fh, bytes, dataOffset + p.offset);
        } else if (!(bytes instanceof Float32Array) && typeof (bytes as Iterable<Uint8Array>)[Symbol.iterator] === 'function') {
          let written = 0;
          for (const chunk of bytes as Iterable<Uint8Array>) {
            if (!(chunk instanceof Uint8Array)) throw new GgufError('BAD_ARGUMENT', `tensor '${p.t.name}': a raw tensor's chunks must be Uint8Arrays`);
            if (written + chunk.length > p.byteSize) throw wrongSize(written + chunk.length);
            await writeAll(fh, chunk, dataOffset + p.offset + written);
            written += chunk.length;
          }
          if (written !== p.byteSize) throw wrongSize(written);
        } else {
          throw new GgufError('BAD_ARGUMENT', `tensor '${p.t.name}': a raw tensor's data() must return a Uint8Array or an iterable of them`);
        }
        const pad = alignUp(p.byteSize, alignment) - p.byteSize;
        if (pad > 0) await writeAll(fh, new Uint8Array(pad), dataOffset + p.offset + p.byteSize);
        continue;
      }
      let data: Float32Array | Uint8Array | Iterable<Uint8Array> | undefined = await p.t.data();
      if (!(data instanceof Float32Array)) throw new GgufError('BAD_ARGUMENT', `tensor '${p.t.name}': data() must return a Float32Array`);
      if (data.length !== p.nElements) {
        throw new GgufError('BAD_SHAPE', `tensor '${p.t.name}': data() returned ${data.length} values, dims [${p.t.dims.join(', ')}] need ${p.nElements}`);
      }
      let pos = dataOffset + p.offset;
      for (let i = 0; i < p.nElements; i += CHUNK_ELEMENTS) {
        // CHUNK_ELEMENTS is a multiple of every block size, so chunks split on block boundaries
        const src = data.subarray(i, Math.min(p.nElements, i + CHUNK_ELEMENTS));
        const n = quantizeInto(p.t.type, src, chunkBuf, 0);
        await writeAll(fh, chunkBuf.subarray(0, n), pos);
        pos += n;
      }
      data = undefined;
      const padded = alignUp(p.byteSize, alignment) - p.byteSize;
      if (padded > 0) await writeAll(fh, new Uint8Array(padded), pos);
    }
    await fh.sync();
    ok = true;
  } finally {
    await fh.close();
    if (!ok) await unlink(tmp).catch(() => undefined);
  }
  await rename(tmp, path);
}

/**
 * Writes a split model as llama.cpp's gguf-split does (gguf-split.ts): `nParts` files
 * `prefix-0000k-of-0000n.gguf`, the tensors in order in contiguous groups of about equal bytes (each
 * part holds at least one tensor); the first part carries `metadata` plus split.no / split.count /
 * split.tensors.count, the others only split.no / split.count (and general.alignment when it is not the
 * default). Returns the parts' paths, first part first.
 */
export async function writeGgufSplit(prefix: string, metadata: GgufMetaEntry[], tensors: GgufWriteTensor[], nParts: number, opts: GgufWriteOptions = {}): Promise<string[]> {
  if (!Number.isInteger(nParts) || nParts < 2 || nParts > MAX_SPLIT_PARTS) throw new GgufError('BAD_ARGUMENT', `a split model has 2..${MAX_SPLIT_PARTS} parts, not ${nParts}`);
  if (tensors.length < nParts) throw new GgufError('BAD_ARGUMENT', `${tensors.length} tensors cannot fill ${nParts} parts`);
  if (metadata.some((e) => e.key.startsWith('split.'))) throw new GgufError('BAD_ARGUMENT', "the split.* keys are written by writeGgufSplit, not given");
  const bytes = tensors.map((t) => {
    const block = GGML_BLOCK[t.type];
    const n = Array.isArray(t.dims) ? t.dims.reduce((a, b) => a * b, 1) : 0;
    return block ? (n / block.blockSize) * block.typeSize : 0;
  });
  const total = bytes.reduce((a, b) => a + b, 0);
  // cut after tensor i when the bytes so far reach the next part's share, leaving a tensor for each later part
  const groups: GgufWriteTensor[][] = [[]];
  let sum = 0;
  tensors.forEach((t, i) => {
    groups.at(-1)!.push(t);
    sum += bytes[i]!;
    const partsLeft = nParts - groups.length;
    const tensorsLeft = tensors.length - i - 1;
    if (partsLeft > 0 && (sum >= (total * groups.length) / nParts || tensorsLeft === partsLeft)) groups.push([]);
  });
  const alignEntry = metadata.find((e) => e.key === GGUF_KEY_ALIGNMENT);
  const alignment = opts.alignment ?? (alignEntry?.value as number | undefined);
  const paths = groups.map((_, i) => splitPartPath(prefix, i, nParts));
  for (const [i, group] of groups.entries()) {
    const keys = [meta.u16(SPLIT_KEY.no, i), meta.u16(SPLIT_KEY.count, nParts)];
    const entries = i === 0 ? [...metadata, ...keys, meta.i32(SPLIT_KEY.tensorsCount, tensors.length)] : alignEntry ? [alignEntry, ...keys] : keys;
    await writeGguf(paths[i]!, entries, group, alignment !== undefined && !alignEntry ? { alignment } : {});
  }
  return paths;
}
