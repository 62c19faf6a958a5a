/**
 * Bad input through the engine's front doors (Model.load, Engine.load, sessions, evalModel): every case
 * must fail with an error that names the problem, without a crash or a hang, and leave nothing behind —
 * no open file handle (checked in /proc/self/fd) and a process that can load and run the model again.
 *
 * Broken files are made from a generated tiny model by patching bytes found by walking the GGUF layout
 * (key and tensor-name strings are length-prefixed, so their positions are found by searching for the
 * length-prefixed bytes, independently of the reader).
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalModel } from '../../daemon/cli/eval.js';
import { Engine } from '../../daemon/engine/engine.js';
import { ContextOverflowError, Model } from '../../daemon/engine/model.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { GgufError, type GgufErrorCode } from '../../daemon/gguf/gguf-error.js';
import { modelUnavailable } from '../helpers/backend-available.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

const GREEDY = { temperature: 0, topK: 1, topP: 1, seed: 0 };

let dir = '';
let goodPath = '';
let goodQ4Path = '';
let noModel: string | undefined;
let baselineFds = 0;
/** Greedy token after REF_PROMPT, sampled before any bad input was tried. */
let refToken = -1;
const REF_PROMPT = [1, 17, 300, 42, 99, 7, 250];

// ---- /proc/self/fd ----

function openFiles(): string[] {
  const out: string[] = [];
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      out.push(readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // the fd of readdir itself is gone by now
    }
  }
  return out;
}

function assertNoHandleTo(path: string): void {
  const open = openFiles();
  assert.ok(!open.includes(path), `a file handle to ${path} is still open`);
  assert.ok(open.length <= baselineFds, `${open.length} fds open, ${baselineFds} before the bad input:\n${open.join('\n')}`);
}

// ---- GGUF byte patching ----

/** Offset just past the length-prefixed string `s` (a metadata key or a tensor name) in a GGUF header. */
function afterString(b: Buffer, s: string): number {
  const needle = Buffer.alloc(8 + Buffer.byteLength(s));
  needle.writeBigUInt64LE(BigInt(Buffer.byteLength(s)));
  needle.write(s, 8);
  const at = b.indexOf(needle);
  assert.ok(at >= 0, `'${s}' not found in the header`);
  return at + needle.length;
}

/** Copy of `src` with the string value of metadata key `key` replaced by `value` (same byte length). */
function withStringValue(src: Buffer, key: string, value: string): Buffer {
  const b = Buffer.from(src);
  const at = afterString(b, key);
  assert.equal(b.readUInt32LE(at), 8, `${key} is not a string`);
  assert.equal(Number(b.readBigUInt64LE(at + 4)), Buffer.byteLength(value), 'replacement must keep the length');
  b.write(value, at + 12);
  return b;
}

/** Copy of `src` with tensor `name`'s ggml type id set to `type`. */
function withTensorType(src: Buffer, name: string, type: number): Buffer {
  const b = Buffer.from(src);
  const at = afterString(b, name);
  const nDims = b.readUInt32LE(at);
  b.writeUInt32LE(type, at + 4 + 8 * nDims);
  return b;
}

function writeBad(name: string, data: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

// ---- assertions ----

async function rejectsGguf(what: () => Promise<unknown>, code: GgufErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(what, (e: unknown) => {
    assert.ok(e instanceof GgufError, `expected a GgufError, got ${String(e)}`);
    assert.equal(e.code, code, `code of: ${e.message}`);
    assert.match(e.message, message);
    return true;
  });
}

/** Model.load and Engine.load both reject `path` with `code`, and leave no handle open. */
async function rejectsBoth(path: string, code: GgufErrorCode, message: RegExp): Promise<void> {
  await rejectsGguf(() => Model.load(path), code, message);
  assertNoHandleTo(path);
  await rejectsGguf(() => Engine.load(path), code, message);
  assertNoHandleTo(path);
}

function needModel(t: TestContext): boolean {
  if (noModel) t.skip(noModel);
  return !noModel;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moecode-engine-bad-'));
  goodPath = await ensureModel({ arch: 'qwen3moe', preset: 'tiny', weightType: 'Q8_0' });
  goodQ4Path = await ensureModel({ arch: 'qwen3moe', preset: 'tiny', weightType: 'Q4_0' });
  noModel = await modelUnavailable();
  if (noModel) console.log(`# model tests skipped: ${noModel}`);
  if (!noModel) {
    // Warm up (Dawn and the Vulkan driver open their own descriptors once), then take the reference.
    const model = await Model.load(goodPath);
    refToken = await model.feedAndSample(0, 0, REF_PROMPT, GREEDY, REF_PROMPT.length);
    await model.dispose();
  }
  baselineFds = openFiles().length;
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a missing file is NOT_FOUND, a directory NOT_A_FILE, naming the path', async () => {
  const missing = join(dir, 'no-such-model.gguf');
  await rejectsBoth(missing, 'NOT_FOUND', /no-such-model\.gguf.*no such file/);
  await rejectsBoth(dir, 'NOT_A_FILE', /is a directory, not a regular file/);
});

test('a file that is not a GGUF is NOT_GGUF, whatever its size', async () => {
  await rejectsBoth(writeBad('text.gguf', 'def main():\n    print("hello")\n'.repeat(20)), 'NOT_GGUF', /not a GGUF file/);
  await rejectsBoth(writeBad('empty.gguf', ''), 'NOT_GGUF', /too small to be a GGUF file/);
  await rejectsBoth(writeBad('short.gguf', 'GGU'), 'NOT_GGUF', /too small/);
});

test('a truncated header is TRUNCATED', async () => {
  const good = readFileSync(goodPath);
  for (const n of [16, 30, 400, 5000]) {
    await rejectsBoth(writeBad(`head-${n}.gguf`, good.subarray(0, n)), 'TRUNCATED', /truncated/);
  }
});

test('truncated tensor data is TRUNCATED, naming the tensor', async () => {
  const good = readFileSync(goodPath);
  const p = writeBad('data.gguf', good.subarray(0, good.length - 100));
  await rejectsBoth(p, 'TRUNCATED', /tensor '[\w.]+'.*past the end of the file/);
});

test('an unknown architecture is UNSUPPORTED_ARCH, naming it and the supported ones', async () => {
  const bad = withStringValue(readFileSync(goodPath), 'general.architecture', 'qwen9moe');
  await rejectsBoth(writeBad('arch.gguf', bad), 'UNSUPPORTED_ARCH', /'qwen9moe' is not supported.*qwen3moe/);
});

test('an unsupported tensor type is UNSUPPORTED_TYPE, naming the tensor and the type', async () => {
  const q4 = readFileSync(goodQ4Path);
  // I32 has F32's size (4 bytes a value; the router is F32): the file stays consistent, only the type is one no backend runs.
  const i32 = withTensorType(q4, 'blk.1.ffn_gate_inp.weight', GgmlType.I32);
  await rejectsBoth(writeBad('i32.gguf', i32), 'UNSUPPORTED_TYPE', /'blk\.1\.ffn_gate_inp\.weight' has type I32.*Q8_0/);
  const unknown = withTensorType(q4, 'blk.0.attn_q.weight', 99);
  await rejectsBoth(writeBad('type99.gguf', unknown), 'UNSUPPORTED_TYPE', /'blk\.0\.attn_q\.weight' has type.*99/);
  // A norm must stay F32: a quantised type there is refused, not misread.
  const normQ = withTensorType(readFileSync(goodPath), 'output_norm.weight', GgmlType.Q8_0);
  await assert.rejects(() => Model.load(writeBad('norm.gguf', normQ)), (e: unknown) => e instanceof GgufError && /output_norm\.weight/.test(e.message));
  assertNoHandleTo(join(dir, 'norm.gguf'));
});

test('a failure while weights are uploading releases the GPU and the file', async (t) => {
  if (!needModel(t)) return;
  for (let i = 0; i < 3; i++) {
    const boom = new Error('cancelled by the test during upload');
    let calls = 0;
    await assert.rejects(
      () =>
        Model.load(goodPath, {
          onProgress: (f) => {
            calls++;
            if (f > 0.3 && f < 1) throw boom;
          },
        }),
      (e: unknown) => e === boom,
    );
    assert.ok(calls > 1, 'onProgress was called during the upload');
    assertNoHandleTo(goodPath);
  }
});

test('a prompt longer than the context is refused with a clear RangeError / ContextOverflowError', async (t) => {
  if (!needModel(t)) return;
  const engine = await Engine.load(goodPath, { nCtx: 64 });
  try {
    assert.equal(engine.model.nCtx, 64);
    const session = engine.session(0);
    const long = Array.from({ length: 64 }, (_, i) => (i * 37) % 500);
    await assert.rejects(() => session.prefill(long, GREEDY), (e: unknown) => e instanceof RangeError && /the prompt has 64 tokens; the context holds 64/.test(e.message));
    assert.deepEqual(session.tokens, [], 'a refused prompt leaves the session as it was');
    await assert.rejects(
      () => engine.model.feedAndSample(0, 0, [...long, 1], GREEDY, 65),
      (e: unknown) => e instanceof ContextOverflowError && /65 tokens exceed the context length of 64/.test(e.message),
    );
    await assert.rejects(
      () => engine.model.feedAndSample(0, 60, [1, 2, 3, 4, 5], GREEDY, 65),
      (e: unknown) => e instanceof ContextOverflowError && /65 tokens exceed the context length of 64/.test(e.message),
    );
    // The longest prompt that fits still runs, and the session works afterwards.
    const { token, stats } = await session.prefill(long.slice(0, 63), GREEDY);
    assert.ok(Number.isInteger(token) && token >= 0 && token < engine.model.cfg.n_vocab);
    assert.equal(stats.evaluated, 63);
    assert.equal(session.fits(1), false, 'a full context has no room for another token');
  } finally {
    await engine.dispose();
  }
  assertNoHandleTo(goodPath);
});

test('out-of-vocabulary and malformed token ids are refused, naming the id', async (t) => {
  if (!needModel(t)) return;
  const engine = await Engine.load(goodPath, { nCtx: 64 });
  try {
    const V = engine.model.cfg.n_vocab;
    for (const bad of [V, V + 1000, -1, 1.5, Number.NaN]) {
      await assert.rejects(
        () => engine.model.feedAndSample(0, 0, [1, 2, bad], GREEDY, 3),
        (e: unknown) => e instanceof Error && e.message.includes(`token id ${bad} is outside the vocabulary (0..${V - 1})`),
      );
      await assert.rejects(() => engine.session(0).prefill([5, bad, 6], GREEDY), /is outside the vocabulary/);
    }
    assert.deepEqual(engine.session(0).tokens, []);
    await assert.rejects(() => engine.model.feedAndSample(0, 0, [], GREEDY, 0), /nothing to evaluate/);
    await assert.rejects(() => engine.session(0).prefill([], GREEDY), /empty prompt/);
  } finally {
    await engine.dispose();
  }
});

test('evalModel refuses out-of-vocabulary ids, empty and over-long inputs, and cleans up', async (t) => {
  if (!needModel(t)) return;
  await assert.rejects(() => evalModel(goodPath, [1, 2, 512], 2), /token id 512 is outside the vocabulary \(0\.\.511\)/);
  assertNoHandleTo(goodPath);
  await assert.rejects(() => evalModel(goodPath, [], 2), /at least one token/);
  const long = Array.from({ length: 600 }, (_, i) => i % 500);
  await assert.rejects(() => evalModel(goodPath, long, 0), (e: unknown) => e instanceof ContextOverflowError && /exceed the context length of 512/.test(e.message));
  assertNoHandleTo(goodPath);
});

test('KV slots that do not exist, and a disposed model, are refused', async (t) => {
  if (!needModel(t)) return;
  const engine = await Engine.load(goodPath, { nCtx: 32, nSlots: 2 });
  assert.throws(() => engine.session(2), /KV slot 2 does not exist \(engine has 2\)/);
  assert.throws(() => engine.session(-1), /KV slot -1 does not exist/);
  await assert.rejects(() => engine.model.feedAndSample(2, 0, [1], GREEDY, 1), /KV slot 2 does not exist \(model has 2\)/);
  await assert.rejects(() => engine.model.feedAndReadLogits(0, 0, [1]), /allLogits/);
  await engine.dispose();
  await engine.dispose(); // twice is harmless
  await assert.rejects(() => engine.model.feedAndSample(0, 0, [1], GREEDY, 1), /unloaded/);
  assertNoHandleTo(goodPath);
});

test('after all the bad input the model loads again and gives the same token', async (t) => {
  if (!needModel(t)) return;
  const engine = await Engine.load(goodPath);
  try {
    const { token } = await engine.session(0).prefill(REF_PROMPT, GREEDY);
    assert.equal(token, refToken);
    // the handle check does see the handle of a loaded model
    assert.throws(() => assertNoHandleTo(goodPath), /still open/);
  } finally {
    await engine.dispose();
  }
  assertNoHandleTo(goodPath);
});
