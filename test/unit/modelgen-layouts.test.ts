/**
 * The generator's layout and feature options (tools/modelgen): qwen2 with biases, the per-expert layout
 * holding exactly the merged tensors' slabs, rope_freqs and RoPE scaling keys, split parts holding the
 * unsplit file's tensors; and specs that llama.cpp could not read are refused. Read back through our
 * GGUF reader and readModelConfig.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { openGguf, readTensorBytes, type GgufFile } from '../../daemon/gguf/gguf-reader.js';
import { splitPartPath } from '../../daemon/gguf/gguf-split.js';
import { dequantizeRow } from '../../daemon/gguf/quantize.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { generateModel, llama3FreqFactors } from '../../tools/modelgen/generate-model.js';
import { resolveSpec, specHash, type ModelSpecInput } from '../../tools/modelgen/model-spec.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'modelgen-layouts-'));
});
after(() => rm(dir, { recursive: true, force: true }));

async function withModel<T>(spec: ModelSpecInput, name: string, fn: (f: GgufFile) => Promise<T>): Promise<T> {
  const [first] = await generateModel(spec, join(dir, name));
  const f = await openGguf(first!);
  try {
    return await fn(f);
  } finally {
    await f.close();
  }
}

const values = async (f: GgufFile, name: string) => {
  const t = f.tensorByName.get(name);
  assert.ok(t, `${name} is in the file`);
  return dequantizeRow(t.type, await readTensorBytes(f, t), t.nElements);
};

test('qwen2: dense, biases by default, NEOX; readModelConfig sees them', async () => {
  await withModel({ arch: 'qwen2', n_layer: 1 }, 'qwen2.gguf', async (f) => {
    const cfg = readModelConfig(f);
    assert.equal(cfg.arch, 'qwen2');
    assert.equal(cfg.n_expert, 0);
    assert.deepEqual(cfg.attn_bias, { q: true, k: true, v: true, o: false });
    assert.equal(f.metadata.has('qwen2.expert_count'), false);
    const bq = await values(f, 'blk.0.attn_q.bias');
    assert.equal(bq.length, cfg.n_embd);
    assert.ok(bq.some((v) => Math.abs(v) > 0.1), 'biases are not all near zero');
  });
  await withModel({ arch: 'qwen2', n_layer: 1, biases: false }, 'qwen2-nb.gguf', async (f) => assert.equal(f.tensorByName.has('blk.0.attn_q.bias'), false));
});

test('llama dense with biases: attn_output and FFN biases too; qwen2moe: q/k/v only', async () => {
  await withModel({ arch: 'llama', n_layer: 1, n_expert: 0, biases: true }, 'llama-b.gguf', async (f) => {
    const cfg = readModelConfig(f);
    assert.deepEqual(cfg.attn_bias, { q: true, k: true, v: true, o: true });
    assert.deepEqual(cfg.ffn_bias, { gate: true, up: true, down: true });
  });
  await withModel({ arch: 'qwen2moe', n_layer: 1, biases: true }, 'q2moe-b.gguf', async (f) => {
    const cfg = readModelConfig(f);
    assert.deepEqual(cfg.attn_bias, { q: true, k: true, v: true, o: false });
  });
});

test('per-expert layout: each blk.N.ffn_*.E.weight is slab E of the merged tensor, for F32 and Q8_0', async () => {
  for (const weightType of ['F32', 'Q8_0'] as const) {
    const spec = { arch: 'llama' as const, n_layer: 1, weightType };
    const [merged] = await generateModel(spec, join(dir, `merged-${weightType}.gguf`));
    const m = await openGguf(merged!);
    try {
      await withModel({ ...spec, expert_layout: 'per-expert' }, `per-expert-${weightType}.gguf`, async (f) => {
        const cfg = readModelConfig(f);
        assert.equal(cfg.expert_layout, 'per-expert');
        assert.equal(f.tensorByName.has('blk.0.ffn_up_exps.weight'), false);
        for (const n of ['ffn_gate', 'ffn_up', 'ffn_down']) {
          const whole = m.tensorByName.get(`blk.0.${n}_exps.weight`)!;
          const bytes = await readTensorBytes(m, whole);
          const slab = whole.byteSize / cfg.n_expert;
          for (const e of [0, 3, cfg.n_expert - 1]) {
            const t = f.tensorByName.get(`blk.0.${n}.${e}.weight`)!;
            assert.equal(t.type, weightType === 'F32' ? GgmlType.F32 : GgmlType.Q8_0);
            assert.deepEqual(await readTensorBytes(f, t), bytes.subarray(e * slab, (e + 1) * slab), `${n} expert ${e}`);
          }
        }
      });
    } finally {
      await m.close();
    }
  }
  assert.throws(() => resolveSpec({ arch: 'qwen3moe', expert_layout: 'per-expert' }), /per-expert/);
  assert.throws(() => resolveSpec({ arch: 'llama', n_expert: 0, expert_layout: 'per-expert' }), /per-expert/);
});

test('rope_freqs and rope scaling keys', async () => {
  await withModel({ arch: 'llama', n_layer: 1, rope_freqs: true, rope_scaling: { type: 'yarn', factor: 4, original_context_length: 128 } }, 'rope.gguf', async (f) => {
    const cfg = readModelConfig(f);
    assert.equal(cfg.rope_freq_factors, true);
    assert.equal(cfg.rope_scaling_type, 'yarn');
    assert.equal(cfg.rope.freq_scale, 0.25);
    assert.equal(cfg.rope.n_ctx_orig, 128);
    const factors = await values(f, 'rope_freqs.weight');
    assert.deepEqual(Array.from(factors), Array.from(llama3FreqFactors(cfg.n_rot, cfg.rope_freq_base)));
    // Llama 3.1's three regimes all occur in a tiny model's pairs
    assert.equal(factors[0], 1);
    assert.equal(factors.at(-1), 8);
    assert.ok(factors.some((v) => v > 1 && v < 8), 'some factors blend');
  });
  assert.throws(() => resolveSpec({ arch: 'qwen3moe', rope_freqs: true }), /rope_freqs/);
  assert.throws(() => resolveSpec({ arch: 'olmoe', biases: true }), /biases/);
  assert.throws(() => resolveSpec({ arch: 'qwen2', n_expert: 8, n_expert_used: 2 }), /qwen2 is dense/);
});

test('split parts hold the unsplit model; options left out keep the spec hash of older specs', async () => {
  const spec = { arch: 'qwen2' as const, n_layer: 1 };
  const paths = await generateModel({ ...spec, split_parts: 3 }, splitPartPath(join(dir, 'split'), 0, 3));
  assert.equal(paths.length, 3);
  await assert.rejects(generateModel({ ...spec, split_parts: 3 }, join(dir, 'wrong-name.gguf')), /NAME-00001-of-00003\.gguf/);
  const [whole] = await generateModel(spec, join(dir, 'whole.gguf'));
  const a = await openGguf(paths[1]!);
  const b = await openGguf(whole!);
  try {
    assert.equal(a.parts.length, 3);
    assert.deepEqual(a.tensors.map((t) => t.name), b.tensors.map((t) => t.name));
    for (const t of a.tensors) assert.deepEqual(await readTensorBytes(a, t), await readTensorBytes(b, b.tensorByName.get(t.name)!), t.name);
    assert.deepEqual(readModelConfig(a).tensors, readModelConfig(b).tensors);
  } finally {
    await a.close();
    await b.close();
  }
  assert.equal(specHash(resolveSpec({ arch: 'llama' })), specHash(resolveSpec({ arch: 'llama', biases: undefined, split_parts: undefined })));
  assert.notEqual(specHash(resolveSpec({ arch: 'llama' })), specHash(resolveSpec({ arch: 'llama', rope_freqs: true })));
});
