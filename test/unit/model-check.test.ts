/**
 * daemon/model/model-check.ts on real GGUF files (generated, then edited: test/helpers/gguf-variants.ts):
 * every problem of a file is reported at once, each typed (kind, GgufError code), repeated per-layer
 * problems merged, tensor types judged against the running backend's kernels; readModelConfig and
 * Model.load throw them all together (ModelCheckError, a GgufError with the first problem's code) before
 * anything is allocated, and leave no file handle open.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Model } from '../../daemon/engine/model.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import { meta } from '../../daemon/gguf/gguf-writer.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { checkModel } from '../../daemon/model/model-check.js';
import { ModelCheckError, type ModelProblem } from '../../daemon/model/model-problems.js';
import { setMeta, writeVariant } from '../helpers/gguf-variants.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';

let dir = '';
let broken = '';
let noNorms = '';
let foreign = '';
let good = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moecode-check-'));
  const base = { arch: 'qwen3moe' as const, weightType: 'Q8_0' as const, n_layer: 3 };
  good = join(dir, 'good.gguf');
  await writeVariant(good, base);
  // six problems of six kinds in one file
  broken = join(dir, 'broken.gguf');
  // two ggml types the engine runs on no backend (I32, I16), a tokenizer, rope scaling, a missing tensor, a
  // bad shape; a split model's parts are checked when it is opened (gguf-split-open.ts), before this
  const retype: Record<string, GgmlType> = { 'blk.0.ffn_down_exps.weight': GgmlType.I32, 'blk.1.attn_q.weight': GgmlType.I16, 'blk.2.attn_q.weight': GgmlType.I16 };
  await writeVariant(broken, base, {
    meta: (e) => setMeta(setMeta(e, meta.str('tokenizer.ggml.model', 'no-such-tokenizer')), meta.str('qwen3moe.rope.scaling.type', 'longrope')),
    tensors: (t) =>
      t
        .filter((x) => x.name !== 'blk.1.ffn_norm.weight')
        .map((x) => (x.name === 'blk.2.attn_k.weight' ? { ...x, dims: [x.dims[0]!, x.dims[1]! * 2] } : x))
        .map((x) => (retype[x.name] !== undefined ? { ...x, type: retype[x.name]! } : x)),
  });
  // the same tensor missing in every layer
  noNorms = join(dir, 'no-norms.gguf');
  await writeVariant(noNorms, base, { tensors: (t) => t.filter((x) => !/^blk\.\d+\.attn_norm\./.test(x.name)) });
  // an architecture this engine does not run, with a tokenizer that cannot be built either
  foreign = join(dir, 'foreign.gguf');
  await writeVariant(foreign, base, { meta: (e) => setMeta(setMeta(e, meta.str('general.architecture', 'mamba9')), meta.str('tokenizer.ggml.model', 'nope')) });
});

after(() => rmSync(dir, { recursive: true, force: true }));

async function check(path: string, backend?: 'gpu' | 'cpu'): Promise<ModelProblem[]> {
  const file = await openGguf(path);
  try {
    return checkModel(file, { backend }).problems;
  } finally {
    await file.close();
  }
}

test('a file with five different problems reports all five, typed, with their GgufError codes', async () => {
  const problems = await check(broken);
  const summary = problems.map((p) => `${p.kind}:${p.code}`).sort();
  assert.deepEqual(
    summary,
    ['rope:UNSUPPORTED_FEATURE', 'tensor-type:UNSUPPORTED_TYPE', 'tensor-type:UNSUPPORTED_TYPE', 'tensor:BAD_SHAPE', 'tensor:MISSING_TENSOR', 'tokenizer:TOKENIZER'].sort(),
    problems.map((p) => p.message).join('\n'),
  );
  const byType = new Map(problems.filter((p): p is Extract<ModelProblem, { kind: 'tensor-type' }> => p.kind === 'tensor-type').map((p) => [p.type, p]));
  assert.deepEqual(byType.get('I16')?.tensors.sort(), ['blk.1.attn_q.weight', 'blk.2.attn_q.weight'], 'one problem for the tensors of one type');
  assert.match(byType.get('I16')!.message, /tensor 'blk\.1\.attn_q\.weight' has type I16 \(as 1 more tensor\)/);
  assert.deepEqual(byType.get('I32')?.tensors, ['blk.0.ffn_down_exps.weight']);
  const missing = problems.find((p) => p.code === 'MISSING_TENSOR');
  assert.match(missing!.message, /'blk\.1\.ffn_norm\.weight'/);
  assert.match(problems.find((p) => p.code === 'BAD_SHAPE')!.message, /'blk\.2\.attn_k\.weight' has shape/);
  assert.match(problems.find((p) => p.kind === 'rope')!.message, /longrope/);
});

test('readModelConfig and Model.load throw every problem at once, as a GgufError with the first one\'s code, and leave no handle open', async () => {
  const file = await openGguf(broken);
  let thrown: unknown;
  try {
    readModelConfig(file);
  } catch (e) {
    thrown = e;
  } finally {
    await file.close();
  }
  assert.ok(thrown instanceof ModelCheckError && thrown instanceof GgufError, String(thrown));
  assert.equal(thrown.code, thrown.problems[0]!.code);
  assert.ok(thrown.problems.length >= 4, `${thrown.problems.length} problems from the config alone`);
  await assert.rejects(
    () => Model.load(broken, { backend: 'cpu' }),
    (e: unknown) => e instanceof ModelCheckError && e.problems.length === 6 && /longrope/.test(e.message) && /I16/.test(e.message) && /tokenizer/.test(e.message),
  );
  const fds = readdirSync('/proc/self/fd').map((fd) => {
    try {
      return readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return '';
    }
  });
  assert.ok(!fds.includes(broken), 'Model.load left the file open');
});

test('a tensor missing in every layer is one problem naming the first layer and counting the others', async () => {
  const problems = await check(noNorms);
  assert.equal(problems.length, 1, problems.map((p) => p.message).join('\n'));
  const [p] = problems;
  assert.ok(p && p.kind === 'tensor');
  assert.deepEqual(p.tensors, ['blk.0.attn_norm.weight', 'blk.1.attn_norm.weight', 'blk.2.attn_norm.weight']);
  assert.match(p.message, /'blk\.0\.attn_norm\.weight'.* is missing \(the same in 2 more layers\)/);
});

test('an unsupported architecture is reported with the problems found without it (the tokenizer)', async () => {
  const problems = await check(foreign);
  assert.deepEqual(problems.map((p) => p.kind).sort(), ['architecture', 'tokenizer']);
  assert.match(problems.find((p) => p.kind === 'architecture')!.message, /architecture 'mamba9' is not supported/);
});

test('tensor types are judged by the kernels of the backend that runs them, and the message names it', async () => {
  for (const backend of ['gpu', 'cpu'] as const) {
    const types = (await check(broken, backend)).filter((p) => p.kind === 'tensor-type');
    assert.equal(types.length, 2);
    for (const p of types) {
      assert.ok(p.kind === 'tensor-type');
      assert.deepEqual(p.backends, [backend === 'gpu' ? 'wgsl' : 'cpu']);
      assert.match(p.message, backend === 'gpu' ? /matrices on the WebGPU backend run as F32, F16, .*Q4_K.*MXFP4/ : /matrices on the CPU backend run as F32, F16, .*Q4_K.*MXFP4/);
    }
  }
});

test('a good model has no problem, on either backend', async () => {
  for (const backend of [undefined, 'gpu', 'cpu'] as const) assert.deepEqual(await check(good, backend), []);
  const file = await openGguf(good);
  try {
    const c = checkModel(file);
    assert.ok(c.config && c.weights && c.weightBytes > 0);
    assert.equal(c.config.n_layer, 3);
    assert.ok(c.weightBytes === file.tensors.reduce((n, t) => n + t.byteSize, 0));
  } finally {
    await file.close();
  }
});
