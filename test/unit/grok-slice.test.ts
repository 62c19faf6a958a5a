/**
 * The grok1-slice preset without generating its GB: the spec (Grok-1's dimensions, 2 layers, Q4_0/Q8_0,
 * router F32), a header-only write (a sparse file of the true size) read back by our loader and accepted by
 * llama.cpp's vocabulary-only load, the streamed random blocks (deterministic, whole blocks, the intended
 * spread, no offset), the GGUF writer's chunked raw tensors, and other presets keeping their cache names.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireFormat } from '../../daemon/formats/table.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { writeGguf } from '../../daemon/gguf/gguf-writer.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { generateModelHeader, isStreamed, planTensors } from '../../tools/modelgen/generate-model.js';
import { GROK1, resolveSpec, specHash } from '../../tools/modelgen/model-spec.js';
import { scaleTable, streamedBlocks } from '../../tools/modelgen/streamed-blocks.js';
import { disposeOracle, withLlamaModel } from '../helpers/llama-oracle.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'moecode-grok-slice-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
  await disposeOracle();
});

const Q4 = (n: number) => (n / 32) * 18;
/** File sizes of the generated slices (seen from tools/modelgen/cli.ts --preset grok1-slice). */
const SLICE_BYTES = { Q4_0: 6_446_040_992, Q8_0: 12_171_265_952 };
const Q8 = (n: number) => (n / 32) * 34;

describe('grok1-slice spec', () => {
  test("Grok-1's dimensions, 2 layers, Q4_0 by default, router F32, streamed blocks, its own output", () => {
    const s = resolveSpec({ arch: 'grok', preset: 'grok1-slice' });
    assert.deepEqual(
      [s.n_vocab, s.n_embd, s.n_layer, s.n_head, s.n_head_kv, s.head_dim, s.n_expert, s.n_expert_used, s.n_ff_exp, s.n_ctx],
      [131072, 6144, 2, 48, 8, 128, 8, 2, 32768, 8192],
    );
    assert.equal(s.weightType, 'Q4_0');
    assert.equal(s.routerType, 'F32');
    assert.equal(s.streamedBlocks, true);
    assert.equal(s.tied_output, false);
    assert.equal(s.tokenizer, 'llama');
    assert.equal(s.rope_freq_base, 10000);
    assert.equal(s.rms_eps, 1e-5);
    assert.ok(Math.abs(s.grok.embedding_scale - 78.38367176906169) < 1e-9);
    assert.ok(Math.abs(s.grok.logit_scale - 0.5773502691896257) < 1e-12);
    assert.ok(Math.abs(s.grok.attn_output_scale - 0.08838834764831845) < 1e-12);
    assert.equal(s.grok.attn_logit_softcapping, 30);
    assert.equal(resolveSpec({ arch: 'grok', preset: 'grok1-slice', weightType: 'Q8_0' }).weightType, 'Q8_0');
    assert.equal(GROK1.n_layer, 64);
  });

  test('other archs, unstreamable types and recipes are refused', () => {
    assert.throws(() => resolveSpec({ arch: 'qwen3moe', preset: 'grok1-slice' }), /arch must be 'grok'/);
    assert.throws(() => resolveSpec({ arch: 'grok', preset: 'grok1-slice', weightType: 'F16' }), /streamedBlocks writes Q4_0 or Q8_0/);
    assert.throws(() => resolveSpec({ arch: 'grok', preset: 'grok1-slice', recipe: 'Q4_K_M' }), /invalid model spec/);
  });

  test('other presets keep their cache names (no streamedBlocks key unless set)', () => {
    // hashes as they were before the preset existed
    assert.equal(specHash(resolveSpec({ arch: 'qwen3moe', preset: 'bench', weightType: 'Q4_0' })), '842ecf28ccf89f2e');
    assert.equal(specHash(resolveSpec({ arch: 'qwen3moe', preset: 'bench', weightType: 'Q8_0' })), '018b9d1112f76648');
    assert.equal(specHash(resolveSpec({ arch: 'grok', weightType: 'Q8_0' })), '670bb4846b637c5d');
    assert.equal(specHash(resolveSpec({ arch: 'grok', weightType: 'F32', streamedBlocks: false })), 'de7fd68e0005bc8a');
    assert.equal('streamedBlocks' in resolveSpec({ arch: 'grok' }), false);
  });

  test('the tensor plan: every matrix but the router streamed, shapes as llama.cpp creates them for grok', () => {
    const s = resolveSpec({ arch: 'grok', preset: 'grok1-slice' });
    const plan = planTensors(s);
    const byName = new Map(plan.map((p) => [p.name, p]));
    const dims = (n: string) => byName.get(n)?.dims;
    assert.deepEqual(dims('token_embd.weight'), [6144, 131072]);
    assert.deepEqual(dims('output.weight'), [6144, 131072]);
    assert.deepEqual(dims('blk.1.attn_q.weight'), [6144, 6144]);
    assert.deepEqual(dims('blk.1.attn_k.weight'), [6144, 1024]);
    assert.deepEqual(dims('blk.1.attn_v.weight'), [6144, 1024]);
    assert.deepEqual(dims('blk.1.attn_output.weight'), [6144, 6144]);
    assert.deepEqual(dims('blk.1.ffn_gate_inp.weight'), [6144, 8]);
    assert.deepEqual(dims('blk.1.ffn_gate_exps.weight'), [6144, 32768, 8]);
    assert.deepEqual(dims('blk.1.ffn_up_exps.weight'), [6144, 32768, 8]);
    assert.deepEqual(dims('blk.1.ffn_down_exps.weight'), [32768, 6144, 8]);
    for (const n of ['attn_norm', 'attn_output_norm', 'ffn_norm', 'layer_output_norm']) assert.deepEqual(dims(`blk.0.${n}.weight`), [6144]);
    assert.equal(byName.has('blk.2.attn_q.weight'), false);
    assert.equal(plan.length, 1 + 2 * 12 + 2);
    for (const p of plan) {
      const router = p.name.endsWith('ffn_gate_inp.weight');
      assert.equal(p.type, p.dims.length === 1 || router ? GgmlType.F32 : GgmlType.Q4_0, p.name);
      assert.equal(isStreamed(s, p), p.dims.length >= 2 && !router, p.name);
    }
  });
});

describe('grok1-slice header-only write', () => {
  for (const type of ['Q4_0', 'Q8_0'] as const) {
    test(`${type}: our loader reads Grok-1's metadata and tensors from a sparse file of the slice's size`, async () => {
      const spec = resolveSpec({ arch: 'grok', preset: 'grok1-slice', weightType: type });
      const path = join(dir, `grok1-slice-${type}.gguf`);
      const t0 = performance.now();
      await generateModelHeader(spec, path);
      assert.ok(performance.now() - t0 < 30_000, 'a header-only write takes no GB of work');
      const st = await stat(path);
      assert.ok(st.blocks * 512 < 64 << 20, `the file is sparse (${st.blocks * 512} bytes on disk)`);
      const bytes = type === 'Q4_0' ? Q4 : Q8;
      const E = 6144, V = 131072, F = 32768;
      const layer = bytes(E * E) * 2 + bytes(E * 1024) * 2 + 3 * bytes(E * F * 8) + E * 8 * 4 + 4 * E * 4;
      const data = 2 * bytes(E * V) + 2 * layer + E * 4;
      const file = await openGguf(path);
      try {
        assert.equal(file.fileSize, st.size);
        // the header (metadata with 131,072 tokens, scores and types; tensor infos) is ~4.5 MB
        assert.ok(st.size >= data + (4 << 20) && st.size < data + (8 << 20), `file size ${st.size} vs ${data} bytes of tensors`);
        assert.equal(st.size, SLICE_BYTES[type], 'the size of the slice npm run bench:grok generates');
        const m = file.metadata;
        assert.equal(m.get('general.architecture'), 'grok');
        assert.equal(m.get('grok.context_length'), 8192);
        assert.equal(m.get('grok.embedding_length'), 6144);
        assert.equal(m.get('grok.block_count'), 2);
        assert.equal(m.get('grok.feed_forward_length'), 32768);
        assert.equal(m.get('grok.expert_feed_forward_length'), 32768);
        assert.equal(m.get('grok.attention.head_count'), 48);
        assert.equal(m.get('grok.attention.head_count_kv'), 8);
        assert.equal(m.get('grok.expert_count'), 8);
        assert.equal(m.get('grok.expert_used_count'), 2);
        assert.equal(m.get('grok.attn_logit_softcapping'), 30);
        assert.ok(Math.abs((m.get('grok.embedding_scale') as number) - 78.38367) < 1e-4);
        assert.equal(m.get('tokenizer.ggml.model'), 'llama');
        assert.equal((m.get('tokenizer.ggml.tokens') as unknown[]).length, 131072);
        const cfg = readModelConfig(file);
        assert.equal(cfg.arch, 'grok');
        assert.deepEqual([cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_head_kv, cfg.n_embd_head_k, cfg.n_expert, cfg.n_expert_used, cfg.n_vocab], [6144, 2, 48, 8, 128, 8, 2, 131072]);
        const exps = file.tensorByName.get('blk.1.ffn_down_exps.weight')!;
        assert.deepEqual(exps.dims, [32768, 6144, 8]);
        assert.equal(exps.byteSize, bytes(E * F * 8));
        assert.equal(file.tensorByName.get('blk.0.ffn_gate_inp.weight')!.type, GgmlType.F32);
        assert.equal(file.tensors.reduce((n, t) => n + t.byteSize, 0), data);
      } finally {
        await file.close();
      }
      // llama.cpp accepts the grok hyperparameters and the SentencePiece vocabulary (no weights read)
      const nTokens = await withLlamaModel(path, (model) => model.tokenize('def main():').length, true);
      assert.ok(nTokens > 0);
    });
  }
});

describe('streamed blocks', () => {
  for (const [type, bpb] of [[GgmlType.Q4_0, 18], [GgmlType.Q8_0, 34]] as const) {
    const name = type === GgmlType.Q4_0 ? 'Q4_0' : 'Q8_0';
    test(`${name}: deterministic chunks of whole blocks with rms ≈ std and no offset`, () => {
      const n = 32 * 40_000;
      const std = 0.02;
      const chunks = [...streamedBlocks(type, n, std, 7, 'blk.0.ffn_up_exps.weight')];
      const bytes = Buffer.concat(chunks);
      assert.equal(bytes.length, (n / 32) * bpb);
      for (const c of chunks) assert.equal(c.length % bpb, 0, 'chunks end on block boundaries');
      assert.ok(Buffer.concat([...streamedBlocks(type, n, std, 7, 'blk.0.ffn_up_exps.weight')]).equals(bytes), 'same seed and name: same bytes');
      assert.ok(!Buffer.concat([...streamedBlocks(type, n, std, 7, 'blk.1.ffn_up_exps.weight')]).equals(bytes), 'another tensor: other bytes');
      assert.ok(!Buffer.concat([...streamedBlocks(type, n, std, 8, 'blk.0.ffn_up_exps.weight')]).equals(bytes), 'another seed: other bytes');
      const v = new Float32Array(n);
      requireFormat(type).dequantize(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length), n / 32, v, 0);
      let sum = 0;
      let sq = 0;
      for (const x of v) {
        sum += x;
        sq += x * x;
      }
      const rms = Math.sqrt(sq / n);
      assert.ok(Math.abs(rms / std - 1) < 0.03, `rms ${rms} vs std ${std}`);
      assert.ok(Math.abs(sum / n) < 0.01 * std, `mean ${sum / n}`);
      const neg = chunks[0]!.filter((_, i) => i % bpb === 1 && (chunks[0]![i]! & 0x80) !== 0).length;
      assert.ok(neg > 0.4 * (chunks[0]!.length / bpb) && neg < 0.6 * (chunks[0]!.length / bpb), 'about half the block scales are negative');
    });
  }

  test('the scale table spans ±std/rms·(0.8..1.2)', () => {
    const t = scaleTable(4, 0.4);
    const f = new Float32Array(256);
    const block = new Uint8Array(34);
    const out = new Float32Array(32);
    for (let b = 0; b < 256; b++) {
      block.set([t[2 * b]!, t[2 * b + 1]!, 1]); // q[0] = 1: the first value is the scale itself
      requireFormat(GgmlType.Q8_0).dequantize(block, 1, out, 0);
      f[b] = out[0]!;
    }
    const mags = [...f].map(Math.abs);
    assert.ok(Math.min(...mags) >= 0.08 - 1e-4 && Math.max(...mags) <= 0.12 + 1e-4, `${Math.min(...mags)}..${Math.max(...mags)}`);
    assert.equal([...f].filter((x) => x < 0).length, 128);
  });

  test('refuses other types, partial blocks and a bad std', () => {
    assert.throws(() => [...streamedBlocks(GgmlType.F16, 64, 0.1, 1, 'x')], /no streamed block generator for F16/);
    assert.throws(() => [...streamedBlocks(GgmlType.Q8_0, 40, 0.1, 1, 'x')], /not a whole number/);
    assert.throws(() => [...streamedBlocks(GgmlType.Q8_0, 64, 0, 1, 'x')], /std must be a positive number/);
  });
});

describe('GGUF writer: raw tensors as chunks', () => {
  const whole = Uint8Array.from({ length: 3 * 34 }, (_, i) => (i * 7) & 0x7f);
  const tensor = (data: () => Uint8Array | Iterable<Uint8Array>) => ({ name: 't', dims: [96], type: GgmlType.Q8_0, raw: true, data });

  test('chunks write the same file as the whole tensor', async () => {
    const a = join(dir, 'whole.gguf');
    const b = join(dir, 'chunks.gguf');
    await writeGguf(a, [], [tensor(() => whole)]);
    await writeGguf(b, [], [tensor(() => [whole.subarray(0, 34), whole.subarray(34, 40), whole.subarray(40)])]);
    assert.ok((await readFile(a)).equals(await readFile(b)));
  });

  test('too few or too many bytes, or a chunk that is not bytes, are refused and leave no file', async () => {
    const p = join(dir, 'bad.gguf');
    const code = (e: unknown) => (e instanceof GgufError ? e.code : String(e));
    await assert.rejects(writeGguf(p, [], [tensor(() => [whole.subarray(0, 34)])]), (e) => code(e) === 'BAD_SHAPE');
    await assert.rejects(writeGguf(p, [], [tensor(() => [whole, whole.subarray(0, 1)])]), (e) => code(e) === 'BAD_SHAPE');
    await assert.rejects(writeGguf(p, [], [tensor(() => [whole.subarray(0, 34), [1, 2] as unknown as Uint8Array])]), (e) => code(e) === 'BAD_ARGUMENT');
    await assert.rejects(stat(p));
    await assert.rejects(stat(`${p}.tmp`));
  });

  test('headerOnly writes the header and a sparse tail of the full size, without calling data()', async () => {
    const a = join(dir, 'full.gguf');
    const h = join(dir, 'header.gguf');
    await writeGguf(a, [], [tensor(() => whole), { ...tensor(() => whole), name: 'u' }]);
    await writeGguf(h, [], [tensor(() => assert.fail('data() called')), { ...tensor(() => assert.fail('data() called')), name: 'u' }], { headerOnly: true });
    const full = await readFile(a);
    const head = await readFile(h);
    assert.equal(head.length, full.length);
    const f = await openGguf(h);
    try {
      assert.ok(full.subarray(0, f.dataOffset).equals(head.subarray(0, f.dataOffset)), 'same header');
      assert.ok(head.subarray(f.dataOffset).every((x) => x === 0), 'tensor data reads as zeros');
    } finally {
      await f.close();
    }
  });
});
