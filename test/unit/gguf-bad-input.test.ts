/**
 * Every kind of broken GGUF file must give the right GgufError (code and message), without a crash,
 * a hang or a leaked file handle. Bad files are made by writing a valid file with the writer and
 * corrupting bytes at offsets computed by walking the format (walkHeader below, written from the GGUF
 * spec independently of the reader).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgmlType, GgufValueType } from '../../daemon/gguf/ggml-types.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { meta, writeGguf } from '../../daemon/gguf/gguf-writer.js';
import type { GgufMetaEntry, GgufWriteTensor } from '../../daemon/gguf/gguf-writer.js';
import { readModelConfig } from '../../daemon/model/hparams.js';

// ---- independent header walker: byte positions of every field ----

interface KvPos { key: string; keyAt: number; typeAt: number; valueAt: number; elemTypeAt?: number; countAt?: number; elemAt?: number[] }
interface TensorPos { name: string; nameAt: number; nDimsAt: number; dimsAt: number[]; typeAt: number; offsetAt: number }
interface Layout { kv: Map<string, KvPos>; tensors: Map<string, TensorPos>; infoEnd: number }

const SCALAR_SIZE: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

function walkHeader(b: Buffer): Layout {
  let p = 8;
  const nT = Number(b.readBigUInt64LE(p));
  const nKv = Number(b.readBigUInt64LE(p + 8));
  p = 24;
  const str = () => {
    const at = p;
    const n = Number(b.readBigUInt64LE(p));
    const s = b.toString('utf8', p + 8, p + 8 + n);
    p += 8 + n;
    return { at, s };
  };
  const kv = new Map<string, KvPos>();
  for (let i = 0; i < nKv; i++) {
    const { at, s } = str();
    const typeAt = p;
    const type = b.readUInt32LE(p);
    p += 4;
    const pos: KvPos = { key: s, keyAt: at, typeAt, valueAt: p };
    if (type === GgufValueType.ARRAY) {
      pos.elemTypeAt = p;
      const et = b.readUInt32LE(p);
      pos.countAt = p + 4;
      const n = Number(b.readBigUInt64LE(p + 4));
      p += 12;
      pos.elemAt = [];
      for (let j = 0; j < n; j++) {
        pos.elemAt.push(p);
        if (et === GgufValueType.STRING) str();
        else p += SCALAR_SIZE[et]!;
      }
    } else if (type === GgufValueType.STRING) str();
    else p += SCALAR_SIZE[type]!;
    kv.set(s, pos);
  }
  const tensors = new Map<string, TensorPos>();
  for (let i = 0; i < nT; i++) {
    const { at, s } = str();
    const nDimsAt = p;
    const nd = b.readUInt32LE(p);
    p += 4;
    const dimsAt: number[] = [];
    for (let d = 0; d < nd; d++, p += 8) dimsAt.push(p);
    const typeAt = p;
    const offsetAt = p + 4;
    p += 12;
    tensors.set(s, { name: s, nameAt: at, nDimsAt, dimsAt, typeAt, offsetAt });
  }
  return { kv, tensors, infoEnd: p };
}

// ---- fixture: a tiny valid llama MoE model ----

const E = 32;
const F = 32;
const X = 2;
const TOKENS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', '<s>'];
const V = TOKENS.length;

function fixtureMeta(arch = 'llama'): GgufMetaEntry[] {
  return [
    meta.str('general.architecture', arch),
    meta.u32(`${arch}.context_length`, 64),
    meta.u32(`${arch}.embedding_length`, E),
    meta.u32(`${arch}.block_count`, 1),
    meta.u32(`${arch}.feed_forward_length`, F),
    meta.u32(`${arch}.attention.head_count`, 2),
    meta.u32(`${arch}.attention.head_count_kv`, 2),
    meta.u32(`${arch}.expert_count`, X),
    meta.u32(`${arch}.expert_used_count`, 1),
    meta.f32(`${arch}.attention.layer_norm_rms_epsilon`, 1e-5),
    meta.arrStr('tokenizer.ggml.tokens', TOKENS),
    meta.arrI32('tokenizer.ggml.token_type', TOKENS.map(() => 1)),
  ];
}

function fixtureTensors(over: Record<string, number[]> = {}): GgufWriteTensor[] {
  const spec: [string, number[], GgmlType][] = [
    ['token_embd.weight', [E, V], GgmlType.Q8_0],
    ['output_norm.weight', [E], GgmlType.F32],
    ['output.weight', [E, V], GgmlType.F16],
    ['blk.0.attn_norm.weight', [E], GgmlType.F32],
    ['blk.0.attn_q.weight', [E, E], GgmlType.F16],
    ['blk.0.attn_k.weight', [E, E], GgmlType.F16],
    ['blk.0.attn_v.weight', [E, E], GgmlType.F16],
    ['blk.0.attn_output.weight', [E, E], GgmlType.Q4_0],
    ['blk.0.ffn_norm.weight', [E], GgmlType.F32],
    ['blk.0.ffn_gate_inp.weight', [E, X], GgmlType.F32],
    ['blk.0.ffn_gate_exps.weight', [E, F, X], GgmlType.Q8_0],
    ['blk.0.ffn_up_exps.weight', [E, F, X], GgmlType.Q8_0],
    ['blk.0.ffn_down_exps.weight', [F, E, X], GgmlType.Q8_0],
  ];
  return spec.map(([name, dims, type]) => {
    const d = over[name] ?? dims;
    return { name, dims: d, type, data: () => new Float32Array(d.reduce((a, b) => a * b, 1)).map((_, i) => Math.cos(i) * 0.1) };
  });
}

let dir = '';
let validPath = '';
let valid: Buffer;
let layout: Layout;
let aligned64: Buffer;
let n = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gguf-bad-'));
  validPath = join(dir, 'valid.gguf');
  await writeGguf(validPath, fixtureMeta(), fixtureTensors());
  valid = await readFile(validPath);
  layout = walkHeader(valid);
  const p64 = join(dir, 'a64.gguf');
  await writeGguf(p64, fixtureMeta(), fixtureTensors(), { alignment: 64 });
  aligned64 = await readFile(p64);
});
after(() => rm(dir, { recursive: true, force: true }));

/** File descriptors of this process open on `path`. */
async function fdsOpenOn(path: string): Promise<number> {
  let count = 0;
  for (const fd of await readdir('/proc/self/fd').catch(() => [] as string[])) {
    if ((await readlink(`/proc/self/fd/${fd}`).catch(() => '')) === path) count++;
  }
  return count;
}

async function save(bytes: Buffer): Promise<string> {
  const path = join(dir, `bad-${n++}.gguf`);
  await writeFile(path, bytes);
  return path;
}

function patched(base: Buffer, edit: (b: Buffer) => void): Buffer {
  const b = Buffer.from(base);
  edit(b);
  return b;
}

/** openGguf on `bytes` must fail with `code` and a message matching every regex; no fd left open. */
async function expectOpenError(bytes: Buffer, code: string, ...res: RegExp[]): Promise<GgufError> {
  const path = await save(bytes);
  let err: unknown;
  try {
    const f = await openGguf(path);
    await f.close();
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof GgufError, `expected GgufError ${code}, got ${err === undefined ? 'success' : String(err)}`);
  assert.equal(err.code, code, err.message);
  for (const re of res) assert.match(err.message, re);
  assert.equal(await fdsOpenOn(path), 0, 'file handle closed after the error');
  return err;
}

async function expectConfigError(bytes: Buffer, code: string, ...res: RegExp[]): Promise<void> {
  const path = await save(bytes);
  const f = await openGguf(path);
  try {
    assert.throws(() => readModelConfig(f), (e: unknown) => {
      assert.ok(e instanceof GgufError, String(e));
      assert.equal(e.code, code, e.message);
      for (const re of res) assert.match(e.message, re);
      return true;
    });
  } finally {
    await f.close();
  }
  assert.equal(await fdsOpenOn(path), 0);
}

const T = { timeout: 20_000 };

// -------------------------------------------------------------------------------------------------

test('the fixture is valid (sanity for every corruption below)', T, async () => {
  const f = await openGguf(validPath);
  const c = readModelConfig(f);
  assert.equal(c.n_expert, X);
  assert.equal(f.tensors.length, layout.tensors.size);
  await f.close();
});

test('missing file, directory, not a GGUF (without echoing the file)', T, async () => {
  const missing = join(dir, 'does-not-exist.gguf');
  await assert.rejects(openGguf(missing), (e: unknown) => e instanceof GgufError && e.code === 'NOT_FOUND' && e.message.includes(missing) && /no such file/.test(e.message));
  const sub = join(dir, 'a-directory.gguf');
  await mkdir(sub);
  await assert.rejects(openGguf(sub), (e: unknown) => e instanceof GgufError && e.code === 'NOT_A_FILE' && /is a directory, not a regular file/.test(e.message));
  const text = await expectOpenError(Buffer.from('{"model": "not a gguf", "padding": "................"}'), 'NOT_GGUF', /not a GGUF file/, /"GGUF" signature/);
  assert.doesNotMatch(text.message, /model|7b 22|\{/, 'the file\'s first bytes are not echoed, as text or as hex');
  await expectOpenError(Buffer.alloc(0), 'NOT_GGUF', /0 bytes is too small/);
  await expectOpenError(Buffer.from('GG'), 'NOT_GGUF', /2 bytes/);
});

test('bad version', T, async () => {
  await expectOpenError(patched(valid, (b) => b.writeUInt32LE(1, 4)), 'BAD_VERSION', /version 1 .*v1 is no longer supported/);
  await expectOpenError(patched(valid, (b) => b.writeUInt32LE(4, 4)), 'BAD_VERSION', /version 4 at byte 4/, /expected 2 or 3/);
  await expectOpenError(patched(valid, (b) => b.writeUInt32BE(3, 4)), 'BAD_VERSION', /byte-swapped/);
});

test('truncated header: inside the counts, a key, the token array, the tensor infos', T, async () => {
  await expectOpenError(valid.subarray(0, 10), 'TRUNCATED', /tensor count at byte 8/);
  const kvArch = layout.kv.get('general.architecture')!;
  // so short that the announced entries cannot fit: caught before reading them
  await expectOpenError(valid.subarray(0, kvArch.keyAt + 8 + 5), 'TRUNCATED', /12 key\/value pairs, needing at least \d+ bytes, but only 13 remain/);
  // a vocabulary-only file cut inside token 40's bytes: its length (≤ remaining) passes, its bytes are missing
  const vocabPath = join(dir, 'vocab-only.gguf');
  await writeGguf(vocabPath, [meta.arrStr('tokenizer.ggml.tokens', Array.from({ length: 100 }, (_, i) => `token-${i}-${'x'.repeat(i)}`))], []);
  const vocab = await readFile(vocabPath);
  const tok = walkHeader(vocab).kv.get('tokenizer.ggml.tokens')!;
  await expectOpenError(vocab.subarray(0, tok.elemAt![40]! + 8 + 20), 'TRUNCATED', /element 40 of string array 'tokenizer\.ggml\.tokens'/);
  const q = layout.tensors.get('blk.0.attn_q.weight')!;
  await expectOpenError(valid.subarray(0, q.dimsAt[1]! + 3), 'TRUNCATED', /dimension 1 of tensor 'blk\.0\.attn_q\.weight'/);
  // end of the tensor infos but before the aligned data section
  await expectOpenError(valid.subarray(0, layout.infoEnd), 'TRUNCATED');
});

test('truncated tensor data: the last tensor runs past the end of the file', T, async () => {
  const f = await openGguf(validPath);
  const last = f.tensors.reduce((a, b) => (b.offset > a.offset ? b : a));
  await f.close();
  await expectOpenError(valid.subarray(0, last.offset + last.byteSize - 10), 'TRUNCATED', new RegExp(`'${last.name.replace(/\./g, '\\.')}'.*extends past the end of the file \\(${last.offset + last.byteSize - 10} bytes\\)`));
});

test('absurd counts', T, async () => {
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(1n << 62n, 8)), 'LIMIT_EXCEEDED', /tensor count 4611686018427387904/);
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(0xffffffffffffffffn, 16)), 'LIMIT_EXCEEDED', /key\/value count 18446744073709551615/);
  // within the count limit, but the file cannot possibly hold that many entries
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(900_000n, 16)), 'TRUNCATED', /900000 key\/value pairs.*only \d+ remain/);
});

test('absurd string lengths', T, async () => {
  const kvArch = layout.kv.get('general.architecture')!;
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(1n << 60n, kvArch.keyAt)), 'LIMIT_EXCEEDED', /key of metadata entry 0 at byte 24: string length 1152921504606846976 exceeds the maximum/);
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(BigInt(valid.length), kvArch.keyAt)), 'TRUNCATED', /exceeds the \d+ bytes remaining/);
  const tok = layout.kv.get('tokenizer.ggml.tokens')!;
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(1n << 40n, tok.elemAt![2]!)), 'LIMIT_EXCEEDED', /element 2 of string array 'tokenizer\.ggml\.tokens'.*string length 1099511627776/);
  const q = layout.tensors.get('blk.0.attn_q.weight')!;
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(100_000n, q.nameAt)), 'TRUNCATED', /name of tensor 4.*string length 100000 exceeds/);
});

test('absurd array lengths', T, async () => {
  const tok = layout.kv.get('tokenizer.ggml.tokens')!;
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(1n << 50n, tok.countAt!)), 'LIMIT_EXCEEDED', /'tokenizer\.ggml\.tokens'.*array length 1125899906842624 exceeds the maximum/);
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(10_000_000n, tok.countAt!)), 'TRUNCATED', /array of 10000000 STRING needs at least 80000000 bytes/);
  const tt = layout.kv.get('tokenizer.ggml.token_type')!;
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(50_000_000n, tt.countAt!)), 'TRUNCATED', /'tokenizer\.ggml\.token_type'.*INT32/);
});

test('invalid value types', T, async () => {
  const ctx = layout.kv.get('llama.context_length')!;
  await expectOpenError(patched(valid, (b) => b.writeUInt32LE(13, ctx.typeAt)), 'BAD_VALUE_TYPE', /key 'llama\.context_length' at byte \d+ has invalid value type 13/);
  const tok = layout.kv.get('tokenizer.ggml.tokens')!;
  await expectOpenError(patched(valid, (b) => b.writeUInt32LE(GgufValueType.ARRAY, tok.elemTypeAt!)), 'BAD_VALUE_TYPE', /'tokenizer\.ggml\.tokens'.*arrays of arrays/);
  await expectOpenError(patched(valid, (b) => b.writeUInt32LE(200, tok.elemTypeAt!)), 'BAD_VALUE_TYPE', /invalid array element type 200/);
});

test('bad strings: empty key, duplicate key, duplicate tensor name', T, async () => {
  const kvArch = layout.kv.get('general.architecture')!;
  // an empty key: length 0, then the old key bytes are read as the type → cut to keep it simple
  const emptyKey = Buffer.concat([valid.subarray(0, kvArch.keyAt), Buffer.alloc(8), valid.subarray(kvArch.keyAt + 8 + kvArch.key.length)]);
  await expectOpenError(emptyKey, 'BAD_STRING', /metadata entry 0 at byte 24 has an empty key/);
  // rename a key to another key of the same byte length → duplicate
  const ctx = layout.kv.get('llama.context_length')!;
  const sameLen = [...layout.kv.values()].filter((k) => k.key.length === ctx.key.length && k.key !== ctx.key);
  assert.ok(sameLen.length > 0, 'fixture has two keys of equal length');
  await expectOpenError(patched(valid, (b) => b.write(ctx.key, sameLen[0]!.keyAt + 8, 'utf8')), 'BAD_STRING', /duplicate metadata key 'llama\.context_length'/);
  const k = layout.tensors.get('blk.0.attn_k.weight')!;
  await expectOpenError(patched(valid, (b) => b.write('blk.0.attn_q.weight', k.nameAt + 8, 'utf8')), 'BAD_STRING', /duplicate tensor name 'blk\.0\.attn_q\.weight'/);
});

test('bad shapes in tensor infos', T, async () => {
  const q = layout.tensors.get('blk.0.attn_q.weight')!;
  await expectOpenError(patched(valid, (b) => b.writeUInt32LE(5, q.nDimsAt)), 'BAD_SHAPE', /'blk\.0\.attn_q\.weight'.*n_dims 5 is not in 1\.\.4/);
  await expectOpenError(patched(valid, (b) => b.writeUInt32LE(0, q.nDimsAt)), 'BAD_SHAPE', /n_dims 0/);
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(0n, q.dimsAt[1]!)), 'BAD_SHAPE', /ne\[1\] = 0 must be a positive/);
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(1n << 60n, q.dimsAt[1]!)), 'BAD_SHAPE', /ne\[1\] = 1152921504606846976/);
  const up = layout.tensors.get('blk.0.ffn_up_exps.weight')!;
  await expectOpenError(patched(valid, (b) => { b.writeBigUInt64LE(1n << 26n, up.dimsAt[1]!); b.writeBigUInt64LE(1n << 26n, up.dimsAt[2]!); }), 'BAD_SHAPE', /element count .* is not a safe integer/);
  const emb = layout.tensors.get('token_embd.weight')!;
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(48n, emb.dimsAt[0]!)), 'BAD_SHAPE', /'token_embd\.weight' of type Q8_0: ne\[0\] = 48 is not a multiple of the block size 32/);
});

test('tensor offsets: past the end, misaligned, overlapping', T, async () => {
  const down = layout.tensors.get('blk.0.ffn_down_exps.weight')!;
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(1n << 40n, down.offsetAt)), 'BAD_OFFSET', /'blk\.0\.ffn_down_exps\.weight': data offset \d+ .* is past the end of the file \(\d+ bytes\)/);
  const relDown = valid.readBigUInt64LE(down.offsetAt);
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(relDown + 4n, down.offsetAt)), 'BAD_ALIGNMENT', new RegExp(`'blk\\.0\\.ffn_down_exps\\.weight': data offset ${relDown + 4n} .* not a multiple of the alignment 32`));
  const norm = layout.tensors.get('output_norm.weight')!;
  const relEmb = valid.readBigUInt64LE(layout.tensors.get('token_embd.weight')!.offsetAt);
  await expectOpenError(patched(valid, (b) => b.writeBigUInt64LE(relEmb, norm.offsetAt)), 'BAD_OFFSET', /overlaps: 'token_embd\.weight' \[\d+, \d+\) and 'output_norm\.weight'|overlaps: 'output_norm\.weight' \[\d+, \d+\) and 'token_embd\.weight'/);
});

test('general.alignment: not a power of two, wrong type', T, async () => {
  const al = walkHeader(aligned64).kv.get('general.alignment')!;
  assert.equal(aligned64.readUInt32LE(al.valueAt), 64);
  await expectOpenError(patched(aligned64, (b) => b.writeUInt32LE(48, al.valueAt)), 'BAD_ALIGNMENT', /'general\.alignment' = 48 is not a power of two/);
  await expectOpenError(patched(aligned64, (b) => b.writeUInt32LE(0, al.valueAt)), 'BAD_ALIGNMENT', /= 0/);
  await expectOpenError(patched(aligned64, (b) => b.writeUInt32LE(GgufValueType.INT32, al.typeAt)), 'BAD_VALUE_TYPE', /'general\.alignment' must be UINT32 but is INT32/);
  // a valid different alignment: 32 on a 64-aligned file keeps every offset aligned but moves the data start
  const f = await openGguf(await save(aligned64));
  assert.equal(f.alignment, 64);
  await f.close();
});

test('model level: unknown architecture, shape inconsistent with hparams, unsupported tensor type', T, async () => {
  const arch = layout.kv.get('general.architecture')!;
  const archValueAt = arch.valueAt + 8; // string: u64 length, then bytes
  assert.equal(valid.toString('utf8', archValueAt, archValueAt + 5), 'llama');
  await expectConfigError(patched(valid, (b) => b.write('mamba', archValueAt, 'utf8')), 'UNSUPPORTED_ARCH', /architecture 'mamba' is not supported/, /grok, llama, qwen2, qwen2moe, qwen3moe, olmoe, granitemoe/);

  // embedding_length 32 → 64: every tensor shaped by n_embd is now inconsistent; token_embd is checked first
  const emb = layout.kv.get('llama.embedding_length')!;
  await expectConfigError(patched(valid, (b) => b.writeUInt32LE(64, emb.valueAt)), 'BAD_SHAPE', /'token_embd\.weight' has shape \[32, 8\], expected \[64, 8\]/);
  // a tensor written with the wrong shape
  const path = join(dir, 'wrong-shape.gguf');
  await writeGguf(path, fixtureMeta(), fixtureTensors({ 'blk.0.ffn_down_exps.weight': [F, E, X + 1] }));
  await expectConfigError(await readFile(path), 'BAD_SHAPE', /'blk\.0\.ffn_down_exps\.weight' has shape \[32, 32, 3\], expected \[32, 32, 2\]/);

  // F16 attn_q relabelled I16 (same size, so the file itself stays valid; a type no backend runs) and an unknown type id
  const q = layout.tensors.get('blk.0.attn_q.weight')!;
  await expectConfigError(patched(valid, (b) => b.writeUInt32LE(GgmlType.I16, q.typeAt)), 'UNSUPPORTED_TYPE', /'blk\.0\.attn_q\.weight' has type I16/);
  const unknownType = patched(valid, (b) => b.writeUInt32LE(77, q.typeAt));
  const f = await openGguf(await save(unknownType)); // the reader records it without failing
  assert.equal(f.tensorByName.get('blk.0.attn_q.weight')!.byteSize, -1);
  await f.close();
  await expectConfigError(unknownType, 'UNSUPPORTED_TYPE', /'blk\.0\.attn_q\.weight' has type unknown\(77\) \(unknown to ggml\)/);
  // a norm stored as F16 instead of F32
  const path2 = join(dir, 'f16-norm.gguf');
  const ts = fixtureTensors().map((t) => (t.name === 'blk.0.ffn_norm.weight' ? { ...t, type: GgmlType.F16 } : t));
  await writeGguf(path2, fixtureMeta(), ts);
  await expectConfigError(await readFile(path2), 'UNSUPPORTED_TYPE', /'blk\.0\.ffn_norm\.weight' has type F16/);
});

test('every truncation point of the header fails cleanly', T, async () => {
  const path = join(dir, 'trunc.gguf');
  const end = layout.infoEnd + 40;
  for (let cut = 0; cut < end; cut += 7) {
    await writeFile(path, valid.subarray(0, cut));
    await assert.rejects(openGguf(path), (e: unknown) => e instanceof GgufError && (e.code === 'TRUNCATED' || e.code === 'NOT_GGUF'), `cut at ${cut}`);
  }
  assert.equal(await fdsOpenOn(path), 0);
});

test('random header corruption never crashes, hangs or leaks: only GgufError or a valid file', T, async () => {
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const path = join(dir, 'fuzz.gguf');
  const codes = new Map<string, number>();
  for (let iter = 0; iter < 400; iter++) {
    const b = Buffer.from(valid);
    const nFlips = 1 + Math.floor(rnd() * 4);
    for (let i = 0; i < nFlips; i++) {
      const at = 4 + Math.floor(rnd() * (layout.infoEnd - 4));
      b[at] = rnd() < 0.5 ? Math.floor(rnd() * 256) : b[at]! ^ (1 << Math.floor(rnd() * 8));
    }
    await writeFile(path, b);
    try {
      const f = await openGguf(path);
      try {
        readModelConfig(f);
        codes.set('ok', (codes.get('ok') ?? 0) + 1);
      } catch (e) {
        assert.ok(e instanceof GgufError, `iteration ${iter}: readModelConfig threw ${String(e)}`);
        codes.set(`config:${e.code}`, (codes.get(`config:${e.code}`) ?? 0) + 1);
      } finally {
        await f.close();
      }
    } catch (e) {
      assert.ok(e instanceof GgufError, `iteration ${iter}: openGguf threw ${String(e)}`);
      codes.set(e.code, (codes.get(e.code) ?? 0) + 1);
    }
  }
  assert.equal(await fdsOpenOn(path), 0);
  assert.ok(codes.size > 3, `varied outcomes: ${JSON.stringify([...codes])}`);
});
