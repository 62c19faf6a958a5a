/**
 * GGUF v2/v3 (little-endian) header reader with strict validation.
 *
 * Why not @huggingface/gguf (0.4.6, installed)? Checked against what the engine needs, it does not fit:
 *  - errors are plain `Error`s with no codes, and the file handle it opens is not under our control;
 *  - it does not check tensor data ranges against the file size, their alignment or overlaps, does not
 *    require general.alignment to be a power of two (nor UINT32), allows n_dims up to 8 and zero dims;
 *  - it accumulates the whole header in one growing in-memory buffer capped at 50 MB, so headers with
 *    big vocabularies fail, and the cap is not a validation of the file;
 *  - it does not report value types per key (we need them: llama.cpp is strict about u32 vs i32).
 * So this file parses the format itself (layout from ggml/src/gguf.cpp), reading the header
 * incrementally through one FileHandle and a reusable buffer; strings are decoded straight out of that
 * buffer (no Buffer per string) and numeric arrays are bulk-copied into typed arrays. Every count and
 * length is checked against limits and the bytes left in the file before anything is allocated.
 * Tensor data is never read here; use GgufFile.read().
 */
import { constants, type Stats } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { endianness } from 'node:os';
import { basename } from 'node:path';
import { GGML_BLOCK, GGML_TYPE_COUNT, GgmlType, GgufValueType, ggmlTypeName } from './ggml-types.js';
import { GgufError } from './gguf-error.js';
import { untrustedText } from './untrusted-text.js';
import {
  GGML_MAX_DIMS,
  GGML_MAX_NAME,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_KEY_ALIGNMENT,
  alignUp,
  ggufScalarSize,
  ggufValueTypeName,
  isPowerOfTwo,
  isValidGgufValueType,
} from './gguf-format.js';
import type { GgufValue } from './gguf-format.js';
import { openSplitAware } from './gguf-split-open.js';

export type { GgufValue } from './gguf-format.js';

export interface GgufTensorInfo {
  name: string;
  /** ggml ne[], innermost first. */
  dims: number[];
  /** ggml type id; may be a value outside GgmlType when the file uses a type unknown to us (see byteSize). */
  type: GgmlType;
  nElements: number;
  /** Bytes of data; -1 when the type is unknown (such a tensor cannot be used: see assertTensorType). */
  byteSize: number;
  /** Which file of the model holds the data: an index into GgufFile.parts (0 unless the model is split). */
  part: number;
  /** Absolute offset of the tensor data in that file. */
  offset: number;
}

/** One file of a model: the only one, or one part of a split model (gguf-split.ts). */
export interface GgufPart {
  path: string;
  fileSize: number;
  /** Absolute offset of the part's tensor data section. */
  dataOffset: number;
}

/**
 * A model's GGUF: one file, or every part of a split model presented as one (metadata from the first
 * part, the tensors of all parts, each tensor info naming its part).
 */
export interface GgufFile {
  /** The model's path: the file, or the first part of a split model. */
  path: string;
  version: number;
  /** Size of the first (or only) file. */
  fileSize: number;
  /** Bytes of every part together (the model's size on disk). */
  totalSize: number;
  /** The files of the model in order (one unless split). */
  parts: GgufPart[];
  alignment: number;
  /** Absolute offset of the first file's tensor data section. */
  dataOffset: number;
  metadata: Map<string, GgufValue>;
  metadataTypes: Map<string, GgufValueType>;
  /** Element type of each ARRAY-typed key. */
  metadataArrayTypes: Map<string, GgufValueType>;
  tensors: GgufTensorInfo[];
  tensorByName: Map<string, GgufTensorInfo>;
  /** Reads raw bytes [offset, offset+length) of part `part` (default 0); throws TRUNCATED if they are not all there. */
  read(offset: number, length: number, into?: Uint8Array, part?: number): Promise<Uint8Array>;
  close(): Promise<void>;
}

/** Limits beyond which a header is rejected as absurd (LIMIT_EXCEEDED). */
export const GGUF_LIMITS = {
  maxTensors: 1_000_000,
  maxKv: 1_000_000,
  /** One string (key, value, array element, tensor name). Chat templates are tens of KB. */
  maxStringBytes: 64 * 1024 * 1024,
  /** Elements of one metadata array (vocabularies are ~10^5). */
  maxArrayElements: 1 << 27,
} as const;

// minimal encoded sizes, used to reject counts that cannot fit in the bytes left
const MIN_KV_BYTES = 8 + 1 + 4 + 1; // key length + 1-byte key + type + 1-byte value
const MIN_TENSOR_INFO_BYTES = 8 + 1 + 4 + 8 + 4 + 8; // name length + 1-byte name + n_dims + 1 dim + type + offset

const LITTLE_ENDIAN_HOST = endianness() === 'LE';
const INITIAL_BUFFER = 1 << 20;

/** Buffered sequential reader over a FileHandle. `pos` is the absolute file offset of the next byte. */
class HeaderReader {
  buf: Buffer = Buffer.allocUnsafe(INITIAL_BUFFER);
  /** Absolute file offset of buf[0]. */
  start = 0;
  /** Number of valid bytes in buf. */
  len = 0;
  pos = 0;

  constructor(private readonly fh: FileHandle, readonly fileSize: number) {}

  get remaining(): number {
    return this.fileSize - this.pos;
  }
  /** Index into buf of the cursor. */
  get at(): number {
    return this.pos - this.start;
  }
  available(): number {
    return this.start + this.len - this.pos;
  }

  /** Ensures bytes [pos, pos+n) are in buf. */
  async need(n: number, what: () => string): Promise<void> {
    if (this.pos + n <= this.start + this.len) return;
    if (n > this.remaining) {
      throw new GgufError('TRUNCATED', `file truncated: ${what()} at byte ${this.pos} needs ${n} bytes but only ${this.remaining} remain (file size ${this.fileSize})`);
    }
    const keep = this.available();
    if (n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(n, this.buf.length * 2));
      this.buf.copy(next, 0, this.at, this.at + keep);
      this.buf = next;
    } else if (keep > 0) {
      this.buf.copy(this.buf, 0, this.at, this.at + keep);
    }
    this.start = this.pos;
    this.len = keep;
    const want = Math.min(this.buf.length, this.fileSize - this.start);
    while (this.len < n) {
      const { bytesRead } = await this.fh.read(this.buf, this.len, want - this.len, this.start + this.len);
      if (bytesRead <= 0) {
        throw new GgufError('TRUNCATED', `file truncated: ${what()} at byte ${this.pos}: read returned no data at byte ${this.start + this.len} (file size ${this.fileSize})`);
      }
      this.len += bytesRead;
    }
  }

  async u32(what: () => string): Promise<number> {
    await this.need(4, what);
    const v = this.buf.readUInt32LE(this.at);
    this.pos += 4;
    return v;
  }
  async u64(what: () => string): Promise<bigint> {
    await this.need(8, what);
    const v = this.buf.readBigUInt64LE(this.at);
    this.pos += 8;
    return v;
  }

  /** Reads a length-prefixed UTF-8 string (length already validated by checkStringLength). */
  async str(what: () => string): Promise<string> {
    const n = await this.u64(() => `length of ${what()}`);
    const len = this.checkStringLength(n, what);
    await this.need(len, what);
    const s = this.buf.toString('utf8', this.at, this.at + len);
    this.pos += len;
    return s;
  }

  checkStringLength(n: bigint, what: () => string): number {
    if (n > BigInt(GGUF_LIMITS.maxStringBytes)) {
      throw new GgufError('LIMIT_EXCEEDED', `${what()} at byte ${this.pos - 8}: string length ${n} exceeds the maximum ${GGUF_LIMITS.maxStringBytes}`);
    }
    if (n > BigInt(this.remaining)) {
      throw new GgufError('TRUNCATED', `${what()} at byte ${this.pos - 8}: string length ${n} exceeds the ${this.remaining} bytes remaining in the file (truncated or corrupt)`);
    }
    return Number(n);
  }
}

type What = () => string;

async function readScalar(r: HeaderReader, t: GgufValueType, what: What): Promise<GgufValue> {
  if (t === GgufValueType.STRING) return r.str(what);
  const size = ggufScalarSize(t)!;
  await r.need(size, what);
  const b = r.buf;
  const i = r.at;
  r.pos += size;
  switch (t) {
    case GgufValueType.UINT8: return b.readUInt8(i);
    case GgufValueType.INT8: return b.readInt8(i);
    case GgufValueType.UINT16: return b.readUInt16LE(i);
    case GgufValueType.INT16: return b.readInt16LE(i);
    case GgufValueType.UINT32: return b.readUInt32LE(i);
    case GgufValueType.INT32: return b.readInt32LE(i);
    case GgufValueType.FLOAT32: return b.readFloatLE(i);
    case GgufValueType.FLOAT64: return b.readDoubleLE(i);
    case GgufValueType.UINT64: return b.readBigUInt64LE(i);
    case GgufValueType.INT64: return b.readBigInt64LE(i);
    case GgufValueType.BOOL: return b.readInt8(i) !== 0;
    default: throw new GgufError('BAD_VALUE_TYPE', `${what()}: value type ${t} cannot be read as a scalar`);
  }
}

function typedArrayFor(t: GgufValueType, ab: ArrayBuffer): GgufValue {
  switch (t) {
    case GgufValueType.UINT8: return new Uint8Array(ab);
    case GgufValueType.INT8: return new Int8Array(ab);
    case GgufValueType.UINT16: return new Uint16Array(ab);
    case GgufValueType.INT16: return new Int16Array(ab);
    case GgufValueType.UINT32: return new Uint32Array(ab);
    case GgufValueType.INT32: return new Int32Array(ab);
    case GgufValueType.FLOAT32: return new Float32Array(ab);
    case GgufValueType.FLOAT64: return new Float64Array(ab);
    case GgufValueType.UINT64: return new BigUint64Array(ab);
    case GgufValueType.INT64: return new BigInt64Array(ab);
    default: return Array.from(new Int8Array(ab), (v) => v !== 0); // BOOL
  }
}

async function readArray(r: HeaderReader, rawKey: string): Promise<{ elemType: GgufValueType; value: GgufValue }> {
  const key = untrustedText(rawKey);
  const elemType = await r.u32(() => `array element type of key '${key}'`);
  if (elemType === GgufValueType.ARRAY) {
    throw new GgufError('BAD_VALUE_TYPE', `key '${key}' at byte ${r.pos - 4}: arrays of arrays are not supported`);
  }
  if (!isValidGgufValueType(elemType)) {
    throw new GgufError('BAD_VALUE_TYPE', `key '${key}' at byte ${r.pos - 4}: invalid array element type ${elemType} (valid: 0..${GgufValueType.FLOAT64})`);
  }
  const n64 = await r.u64(() => `array length of key '${key}'`);
  const minElem = elemType === GgufValueType.STRING ? 8 : ggufScalarSize(elemType)!;
  if (n64 > BigInt(GGUF_LIMITS.maxArrayElements)) {
    throw new GgufError('LIMIT_EXCEEDED', `key '${key}' at byte ${r.pos - 8}: array length ${n64} exceeds the maximum ${GGUF_LIMITS.maxArrayElements}`);
  }
  const n = Number(n64);
  if (n * minElem > r.remaining) {
    throw new GgufError('TRUNCATED', `key '${key}' at byte ${r.pos - 8}: array of ${n} ${ggufValueTypeName(elemType)} needs at least ${n * minElem} bytes but only ${r.remaining} remain (truncated or corrupt)`);
  }
  if (elemType === GgufValueType.STRING) {
    const out: string[] = new Array(n);
    const what = (i: number) => () => `element ${i} of string array '${key}'`;
    for (let i = 0; i < n; i++) {
      // fast path: length and bytes already buffered
      if (r.available() < 8) await r.need(8, what(i));
      const len64 = r.buf.readBigUInt64LE(r.at);
      r.pos += 8;
      const len = r.checkStringLength(len64, what(i));
      if (r.available() < len) await r.need(len, what(i));
      out[i] = r.buf.toString('utf8', r.at, r.at + len);
      r.pos += len;
    }
    return { elemType, value: out };
  }
  // fixed-size elements: bulk copy into an aligned buffer, then view it as a typed array
  const total = n * minElem;
  const ab = new ArrayBuffer(total);
  const dst = new Uint8Array(ab);
  let copied = 0;
  while (copied < total) {
    if (r.available() === 0) await r.need(Math.min(total - copied, r.buf.length), () => `data of array '${key}'`);
    const k = Math.min(r.available(), total - copied);
    r.buf.copy(dst, copied, r.at, r.at + k);
    r.pos += k;
    copied += k;
  }
  if (!LITTLE_ENDIAN_HOST && minElem > 1) {
    for (let i = 0; i < total; i += minElem) dst.subarray(i, i + minElem).reverse();
  }
  return { elemType, value: typedArrayFor(elemType, ab) };
}

async function parse(fh: FileHandle, path: string, fileSize: number): Promise<GgufFile> {
  const r = new HeaderReader(fh, fileSize);
  if (fileSize < 4) throw new GgufError('NOT_GGUF', `${basename(path)}: ${fileSize} bytes is too small to be a GGUF file`);
  await r.need(4, () => 'magic');
  const magic = r.buf.subarray(0, 4);
  if (magic.toString('latin1') !== 'GGUF') {
    // say what is wrong without echoing the file's content (a text file's first bytes are its text)
    throw new GgufError('NOT_GGUF', `${basename(path)}: not a GGUF file (it does not start with the "GGUF" signature)`);
  }
  r.pos = 4;
  const version = await r.u32(() => 'version');
  if (version !== 2 && version !== 3) {
    const hint = version === 1 ? ' (GGUF v1 is no longer supported)' : (version & 0xffff) === 0 ? ' (looks byte-swapped: big-endian GGUF is not supported)' : '';
    throw new GgufError('BAD_VERSION', `${basename(path)}: GGUF version ${version} at byte 4 is not supported, expected 2 or 3${hint}`);
  }
  const nTensors64 = await r.u64(() => 'tensor count');
  const nKv64 = await r.u64(() => 'metadata key/value count');
  if (nTensors64 > BigInt(GGUF_LIMITS.maxTensors)) {
    throw new GgufError('LIMIT_EXCEEDED', `tensor count ${nTensors64} at byte 8 exceeds the maximum ${GGUF_LIMITS.maxTensors}`);
  }
  if (nKv64 > BigInt(GGUF_LIMITS.maxKv)) {
    throw new GgufError('LIMIT_EXCEEDED', `metadata key/value count ${nKv64} at byte 16 exceeds the maximum ${GGUF_LIMITS.maxKv}`);
  }
  const nTensors = Number(nTensors64);
  const nKv = Number(nKv64);
  const minBytes = nKv * MIN_KV_BYTES + nTensors * MIN_TENSOR_INFO_BYTES;
  if (minBytes > r.remaining) {
    throw new GgufError('TRUNCATED', `header claims ${nTensors} tensors and ${nKv} key/value pairs, needing at least ${minBytes} bytes, but only ${r.remaining} remain after byte 24 (truncated or corrupt)`);
  }

  // ---- key/value pairs ----
  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, GgufValueType>();
  const metadataArrayTypes = new Map<string, GgufValueType>();
  for (let i = 0; i < nKv; i++) {
    const keyAt = r.pos;
    const key = await r.str(() => `key of metadata entry ${i}`);
    const quoted = untrustedText(key);
    if (key.length === 0) throw new GgufError('BAD_STRING', `metadata entry ${i} at byte ${keyAt} has an empty key`);
    if (metadata.has(key)) throw new GgufError('BAD_STRING', `duplicate metadata key '${quoted}' (entry ${i} at byte ${keyAt})`);
    const type = await r.u32(() => `value type of key '${quoted}'`);
    if (!isValidGgufValueType(type)) {
      throw new GgufError('BAD_VALUE_TYPE', `key '${quoted}' at byte ${r.pos - 4} has invalid value type ${type} (valid: 0..${GgufValueType.FLOAT64})`);
    }
    if (type === GgufValueType.ARRAY) {
      const { elemType, value } = await readArray(r, key);
      metadata.set(key, value);
      metadataArrayTypes.set(key, elemType);
    } else {
      metadata.set(key, await readScalar(r, type, () => `value of key '${quoted}'`));
    }
    metadataTypes.set(key, type);
  }

  // ---- alignment ----
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (metadata.has(GGUF_KEY_ALIGNMENT)) {
    const t = metadataTypes.get(GGUF_KEY_ALIGNMENT)!;
    if (t !== GgufValueType.UINT32) {
      throw new GgufError('BAD_VALUE_TYPE', `key '${GGUF_KEY_ALIGNMENT}' must be UINT32 but is ${ggufValueTypeName(t)}`);
    }
    alignment = metadata.get(GGUF_KEY_ALIGNMENT) as number;
    if (!isPowerOfTwo(alignment)) throw new GgufError('BAD_ALIGNMENT', `'${GGUF_KEY_ALIGNMENT}' = ${alignment} is not a power of two`);
  }

  // ---- tensor infos ----
  const tensors: GgufTensorInfo[] = [];
  const tensorByName = new Map<string, GgufTensorInfo>();
  const relOffsets: bigint[] = [];
  for (let i = 0; i < nTensors; i++) {
    const nameAt = r.pos;
    const name = await r.str(() => `name of tensor ${i}`);
    const quotedName = untrustedText(name);
    const nameBytes = r.pos - nameAt - 8;
    if (nameBytes === 0) throw new GgufError('BAD_STRING', `tensor ${i} at byte ${nameAt} has an empty name`);
    if (nameBytes >= GGML_MAX_NAME) {
      throw new GgufError('BAD_STRING', `tensor ${i} at byte ${nameAt}: name '${untrustedText(name, 80)}' is ${nameBytes} bytes, the maximum is ${GGML_MAX_NAME - 1}`);
    }
    if (tensorByName.has(name)) throw new GgufError('BAD_STRING', `duplicate tensor name '${quotedName}' (tensor ${i} at byte ${nameAt})`);
    const nDims = await r.u32(() => `n_dims of tensor '${quotedName}'`);
    if (nDims < 1 || nDims > GGML_MAX_DIMS) {
      throw new GgufError('BAD_SHAPE', `tensor '${quotedName}' at byte ${r.pos - 4}: n_dims ${nDims} is not in 1..${GGML_MAX_DIMS}`);
    }
    const dims: number[] = [];
    let nElements = 1;
    for (let d = 0; d < nDims; d++) {
      const ne = await r.u64(() => `dimension ${d} of tensor '${quotedName}'`);
      if (ne === 0n || ne > BigInt(Number.MAX_SAFE_INTEGER)) {
        throw new GgufError('BAD_SHAPE', `tensor '${quotedName}' at byte ${r.pos - 8}: ne[${d}] = ${ne} must be a positive safe integer`);
      }
      dims.push(Number(ne));
      nElements *= Number(ne);
      if (!Number.isSafeInteger(nElements)) {
        throw new GgufError('BAD_SHAPE', `tensor '${quotedName}': element count of dims starting [${dims.join(', ')}] is not a safe integer`);
      }
    }
    const type = (await r.u32(() => `type of tensor '${quotedName}'`)) as GgmlType;
    const block = type < GGML_TYPE_COUNT ? GGML_BLOCK[type] : undefined;
    let byteSize = -1;
    if (block) {
      if (dims[0]! % block.blockSize !== 0) {
        throw new GgufError('BAD_SHAPE', `tensor '${quotedName}' of type ${ggmlTypeName(type)}: ne[0] = ${dims[0]} is not a multiple of the block size ${block.blockSize}`);
      }
      byteSize = (nElements / block.blockSize) * block.typeSize;
      if (!Number.isSafeInteger(byteSize)) throw new GgufError('BAD_SHAPE', `tensor '${quotedName}': byte size ${byteSize} is not a safe integer`);
    }
    const rel = await r.u64(() => `data offset of tensor '${quotedName}'`);
    relOffsets.push(rel);
    const info: GgufTensorInfo = { name, dims, type, nElements, byteSize, part: 0, offset: 0 };
    tensors.push(info);
    tensorByName.set(name, info);
  }

  // ---- data section and tensor ranges ----
  const dataOffset = nTensors > 0 ? alignUp(r.pos, alignment) : r.pos;
  if (nTensors > 0 && dataOffset > fileSize) {
    throw new GgufError('TRUNCATED', `file truncated: the tensor data section starts at byte ${dataOffset} but the file is ${fileSize} bytes`);
  }
  for (let i = 0; i < nTensors; i++) {
    const t = tensors[i]!;
    const rel = relOffsets[i]!;
    if (rel % BigInt(alignment) !== 0n) {
      throw new GgufError('BAD_ALIGNMENT', `tensor '${untrustedText(t.name)}': data offset ${rel} (relative to the data section at byte ${dataOffset}) is not a multiple of the alignment ${alignment}`);
    }
    const abs = BigInt(dataOffset) + rel;
    if (abs > BigInt(fileSize) || (abs === BigInt(fileSize) && t.byteSize !== 0)) {
      throw new GgufError('BAD_OFFSET', `tensor '${untrustedText(t.name)}': data offset ${abs} (data section ${dataOffset} + ${rel}) is past the end of the file (${fileSize} bytes)`);
    }
    t.offset = Number(abs);
    if (t.byteSize >= 0 && t.offset + t.byteSize > fileSize) {
      throw new GgufError('TRUNCATED', `file truncated: tensor '${untrustedText(t.name)}' data [${t.offset}, ${t.offset + t.byteSize}) (${t.byteSize} bytes of ${ggmlTypeName(t.type)}) extends past the end of the file (${fileSize} bytes)`);
    }
  }
  const sized = tensors.filter((t) => t.byteSize > 0).sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sized.length; i++) {
    const a = sized[i - 1]!;
    const b = sized[i]!;
    if (a.offset + a.byteSize > b.offset) {
      throw new GgufError('BAD_OFFSET', `tensor data overlaps: '${untrustedText(a.name)}' [${a.offset}, ${a.offset + a.byteSize}) and '${untrustedText(b.name)}' [${b.offset}, ${b.offset + b.byteSize})`);
    }
  }

  let closed = false;
  return {
    path,
    version,
    fileSize,
    totalSize: fileSize,
    parts: [{ path, fileSize, dataOffset }],
    alignment,
    dataOffset,
    metadata,
    metadataTypes,
    metadataArrayTypes,
    tensors,
    tensorByName,
    async read(offset: number, length: number, into?: Uint8Array, part = 0): Promise<Uint8Array> {
      if (closed) throw new GgufError('BAD_ARGUMENT', `${basename(path)}: read after close`);
      if (part !== 0) throw new GgufError('BAD_ARGUMENT', `${basename(path)}: read from part ${part} of a model of one file`);
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
        throw new GgufError('BAD_ARGUMENT', `${basename(path)}: invalid read range offset ${offset}, length ${length}`);
      }
      if (offset + length > fileSize) {
        throw new GgufError('TRUNCATED', `${basename(path)}: read [${offset}, ${offset + length}) is past the end of the file (${fileSize} bytes)`);
      }
      if (into && into.length < length) throw new GgufError('BAD_ARGUMENT', `read of ${length} bytes into a buffer of ${into.length}`);
      const out = into ? into.subarray(0, length) : new Uint8Array(length);
      let done = 0;
      while (done < length) {
        const { bytesRead } = await fh.read(out, done, Math.min(length - done, 1 << 30), offset + done);
        if (bytesRead <= 0) {
          throw new GgufError('TRUNCATED', `${basename(path)}: short read at byte ${offset + done} (wanted [${offset}, ${offset + length}), file changed on disk?)`);
        }
        done += bytesRead;
      }
      return out;
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await fh.close();
    },
  };
}

/**
 * Opens and validates a model's GGUF: one file, or a split model through the path of any of its parts
 * (gguf-split.ts; every part is opened and checked). Tensor data stays on disk. The caller must close()
 * the result.
 */
export async function openGguf(path: string): Promise<GgufFile> {
  return openSplitAware(path, openGgufFile);
}

/**
 * Opens and validates one GGUF file (a whole model, or one part of a split model as it stands).
 * Only regular files: a FIFO, a device or a directory is refused before it is opened (opening a FIFO
 * blocks until a writer appears, which would wedge every later load), and the open itself is
 * non-blocking so a path swapped for a FIFO after the check cannot block either.
 */
export async function openGgufFile(path: string): Promise<GgufFile> {
  await assertRegularFile(path);
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | (constants.O_NONBLOCK ?? 0));
  } catch (e) {
    throw notOpened(path, e);
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new GgufError('NOT_A_FILE', `'${path}' is ${fileKind(st)}, not a regular file`);
    return await parse(fh, path, st.size);
  } catch (e) {
    await fh.close().catch(() => undefined);
    if (e instanceof GgufError) throw e;
    throw new GgufError('TRUNCATED', `error while reading GGUF header of '${path}': ${(e as Error).message}`, { cause: e });
  }
}

/** Throws NOT_FOUND when `path` does not exist, NOT_A_FILE when it is not a regular file; never blocks on the file. */
export async function assertRegularFile(path: string): Promise<void> {
  let st: Stats;
  try {
    st = await stat(path);
  } catch (e) {
    throw notOpened(path, e);
  }
  if (!st.isFile()) throw new GgufError('NOT_A_FILE', `'${path}' is ${fileKind(st)}, not a regular file`);
}

function notOpened(path: string, e: unknown): GgufError {
  const code = (e as NodeJS.ErrnoException).code ?? 'error';
  return new GgufError('NOT_FOUND', `cannot open GGUF file '${path}': ${code === 'ENOENT' ? 'no such file' : code} (${(e as Error).message})`, { cause: e });
}

function fileKind(st: Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a named pipe (FIFO)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return 'a special file';
}

/** Throws UNSUPPORTED_TYPE unless the tensor's type is in `allowed` (and known to the reader). */
export function assertTensorType(t: GgufTensorInfo, allowed: readonly GgmlType[], role = 'tensor'): void {
  if (t.byteSize < 0 || !allowed.includes(t.type)) {
    const known = t.byteSize < 0 ? ` (type id ${t.type} is unknown to ggml v0.4.0)` : '';
    throw new GgufError('UNSUPPORTED_TYPE', `${role} '${untrustedText(t.name)}' has type ${ggmlTypeName(t.type)}${known}; supported: ${allowed.map(ggmlTypeName).join(', ')}`);
  }
}

/** Reads a tensor's raw bytes; throws UNSUPPORTED_TYPE for tensors of unknown type. */
export async function readTensorBytes(file: GgufFile, t: GgufTensorInfo, into?: Uint8Array): Promise<Uint8Array> {
  if (t.byteSize < 0) throw new GgufError('UNSUPPORTED_TYPE', `tensor '${untrustedText(t.name)}' has unknown ggml type id ${t.type}; its data cannot be read`);
  return file.read(t.offset, t.byteSize, into, t.part);
}
