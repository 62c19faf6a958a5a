/**
 * The model generator (tools/modelgen) produces files llama.cpp accepts, that our GGUF reader and
 * readModelConfig read back as specified, deterministically; and its vocabulary works as a real BPE
 * vocabulary in llama.cpp (code tokenizes into merged tokens, special tokens are control tokens).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { openGguf, readTensorBytes } from '../../daemon/gguf/gguf-reader.js';
import { dequantizeRow } from '../../daemon/gguf/quantize.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { generateModel } from '../../tools/modelgen/generate-model.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { MOE_ARCHS, resolveSpec, specHash } from '../../tools/modelgen/model-spec.js';
import { SPECIAL_TOKENS, buildVocab } from '../../tools/modelgen/tokenizer-vocab.js';
import { disposeOracle, oracleRun, withLlamaModel } from '../helpers/llama-oracle.js';

const CODE = 'export function add(a: number, b: number): number {\n  return a + b;\n}\n';

describe('generated models', () => {
  after(disposeOracle);

  for (const arch of MOE_ARCHS) {
    test(`${arch}: llama.cpp loads it and readModelConfig matches the spec`, async () => {
      const spec = resolveSpec({ arch, weightType: 'Q8_0' });
      const path = await ensureModel(spec);
      const f = await openGguf(path);
      try {
        const cfg = readModelConfig(f);
        assert.equal(cfg.arch, arch);
        assert.equal(cfg.n_vocab, spec.n_vocab);
        assert.equal(cfg.n_embd, spec.n_embd);
        assert.equal(cfg.n_layer, spec.n_layer);
        assert.equal(cfg.n_head, spec.n_head);
        assert.equal(cfg.n_head_kv, spec.n_head_kv);
        assert.equal(cfg.n_embd_head_k, spec.head_dim);
        assert.equal(cfg.n_expert, spec.n_expert);
        assert.equal(cfg.n_expert_used, spec.n_expert_used);
        assert.equal(cfg.n_ff_exp, spec.n_ff_exp);
        assert.equal(cfg.n_ff_shexp, spec.n_ff_shexp);
        assert.equal(cfg.tied_output, spec.tied_output);
        assert.equal(f.tensorByName.get('blk.0.ffn_gate_inp.weight')?.type, GgmlType.F32, 'router stays F32');
        assert.equal(f.tensorByName.get('blk.0.attn_q.weight')?.type, GgmlType.Q8_0);
      } finally {
        await f.close();
      }
      const { logprobs, greedy } = await oracleRun(path, [1, 2, 3, 4], 2);
      assert.equal(logprobs.length, 4);
      assert.equal(greedy.length, 2);
      // not flat: the top token is far more likely than uniform
      const top = Math.max(...logprobs[3]!);
      assert.ok(top > Math.log(10 / spec.n_vocab), `top log p ${top.toFixed(2)} is close to uniform`);
    });
  }

  test('dense variants (n_expert = 0) load in llama.cpp', async () => {
    for (const arch of ['llama', 'granitemoe'] as const) {
      const path = await ensureModel({ arch, n_expert: 0 });
      const f = await openGguf(path);
      try {
        assert.equal(readModelConfig(f).n_expert, 0);
        assert.ok(f.tensorByName.has('blk.0.ffn_up.weight'));
      } finally {
        await f.close();
      }
      assert.equal((await oracleRun(path, [5, 6], 0)).logprobs.length, 2);
    }
    assert.throws(() => resolveSpec({ arch: 'qwen3moe', n_expert: 0 }), /no dense variant/);
  });

  test('deterministic: same spec → same bytes; other seed → other weights; types share the weights', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'modelgen-'));
    try {
      const a = join(dir, 'a.gguf');
      const b = join(dir, 'b.gguf');
      const c = join(dir, 'c.gguf');
      const spec = { arch: 'olmoe' as const, n_layer: 1 };
      await generateModel(spec, a);
      await generateModel(spec, b);
      await generateModel({ ...spec, seed: 2 }, c);
      const digest = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');
      assert.equal(await digest(a), await digest(b));
      assert.notEqual(await digest(a), await digest(c));
      assert.equal(specHash(resolveSpec(spec)), specHash(resolveSpec({ ...spec })));
      assert.notEqual(specHash(resolveSpec(spec)), specHash(resolveSpec({ ...spec, seed: 2 })));

      // the Q8_0 file holds the F32 file's weights, quantized
      const q = join(dir, 'q.gguf');
      await generateModel({ ...spec, weightType: 'Q8_0' }, q);
      const fa = await openGguf(a);
      const fq = await openGguf(q);
      try {
        const name = 'blk.0.attn_q.weight';
        const ta = fa.tensorByName.get(name)!;
        const tq = fq.tensorByName.get(name)!;
        const va = dequantizeRow(ta.type, await readTensorBytes(fa, ta), ta.nElements);
        const vq = dequantizeRow(tq.type, await readTensorBytes(fq, tq), tq.nElements);
        let maxErr = 0;
        let maxAbs = 0;
        for (let i = 0; i < va.length; i++) {
          maxErr = Math.max(maxErr, Math.abs(va[i]! - vq[i]!));
          maxAbs = Math.max(maxAbs, Math.abs(va[i]!));
        }
        assert.ok(maxErr < maxAbs / 100, `Q8_0 weights differ from F32 by ${maxErr} (max |w| ${maxAbs})`);
      } finally {
        await fa.close();
        await fq.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('vocabulary: code tokenizes into merges; special tokens are control tokens llama.cpp knows', async () => {
    const spec = resolveSpec({ arch: 'qwen3moe' });
    const vocab = buildVocab(spec.n_vocab, spec.tokenizer_pre);
    assert.equal(vocab.tokens.length, spec.n_vocab);
    assert.equal(new Set(vocab.tokens).size, vocab.tokens.length, 'token strings are unique');
    const path = await ensureModel(spec);
    await withLlamaModel(path, (model) => {
      const ids = model.tokenize(CODE);
      const bytes = new TextEncoder().encode(CODE).length;
      assert.ok(ids.length < bytes * 0.6, `${ids.length} tokens for ${bytes} bytes: merges are not being used`);
      assert.ok(ids.some((t) => t >= 256), 'some merged tokens');
      assert.equal(model.detokenize(ids), CODE);
      assert.equal(model.tokens.eos, vocab.special['<|endoftext|>']);
      assert.equal(model.tokens.eot, vocab.special['<|im_end|>']);
      assert.equal(model.tokens.infill.prefix, vocab.special['<|fim_prefix|>']);
      assert.equal(model.tokens.infill.suffix, vocab.special['<|fim_suffix|>']);
      assert.equal(model.tokens.infill.middle, vocab.special['<|fim_middle|>']);
      for (const s of SPECIAL_TOKENS) assert.deepEqual(model.tokenize(s, true), [vocab.special[s]], `${s} is one special token`);
    }, true);
  });
});
