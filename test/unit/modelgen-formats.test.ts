/**
 * The model generator's weight-type side (tools/modelgen): random blocks with a sane spread for every
 * reference-only format, llama.cpp's Q4_K_M recipe with its fallbacks, per-tensor overrides, spec
 * validation, the GGUF writer's raw blocks, and the loader's known-vs-supported split on a generated file.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { f16BitsToF32 } from '../../daemon/formats/half.js';
import { q3kScale } from '../../daemon/formats/q3_k.js';
import { KNOWN_WEIGHT_TYPES, requireFormat, SUPPORTED_WEIGHT_TYPES } from '../../daemon/formats/table.js';
import { GgmlType, ggmlTypeName } from '../../daemon/gguf/ggml-types.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import { metaU32 } from '../../daemon/gguf/gguf-metadata.js';
import { openGguf, readTensorBytes } from '../../daemon/gguf/gguf-reader.js';
import { writeGguf } from '../../daemon/gguf/gguf-writer.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { planTensors, tensorBlocks } from '../../tools/modelgen/generate-model.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { REFERENCE_ONLY_WEIGHT_TYPES, resolveSpec } from '../../tools/modelgen/model-spec.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';
import { Rng } from '../../tools/modelgen/prng.js';
import { RANDOM_BLOCK_TYPES, randomBlocks } from '../../tools/modelgen/random-blocks.js';
import { useMoreBits } from '../../tools/modelgen/tensor-types.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'moecode-modelgen-formats-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function dequantized(type: GgmlType, bytes: Uint8Array): Float32Array {
  const f = requireFormat(type);
  const out = new Float32Array((bytes.length / f.typeSize) * f.blockSize);
  f.dequantize(bytes, bytes.length / f.typeSize, out, 0);
  return out;
}

test('random blocks: every reference-only block format, rms ≈ std and mean ≈ 0 at several stds', () => {
  assert.deepEqual(
    RANDOM_BLOCK_TYPES.map(ggmlTypeName).sort(),
    REFERENCE_ONLY_WEIGHT_TYPES.filter((t) => t !== 'BF16').slice().sort(),
  );
  for (const type of RANDOM_BLOCK_TYPES) {
    for (const std of [0.3, 0.0625, 0.01]) {
      const x = dequantized(type, randomBlocks(type, 256 * 128, std, new Rng(3)));
      let s = 0;
      let s2 = 0;
      for (const v of x) {
        assert.ok(Number.isFinite(v), `${ggmlTypeName(type)}: non-finite value`);
        s += v;
        s2 += v * v;
      }
      const rms = Math.sqrt(s2 / x.length);
      assert.ok(rms > 0.85 * std && rms < 1.2 * std, `${ggmlTypeName(type)} std ${std}: rms ${rms}`);
      assert.ok(Math.abs(s / x.length) < 0.05 * std, `${ggmlTypeName(type)} std ${std}: mean ${s / x.length}`);
    }
  }
});

test('random blocks exercise the corners: subnormal f16 scales, signed scales, −128, high scale bits, E8M0', () => {
  const blocks = (type: GgmlType, std: number) => randomBlocks(type, 256 * 64, std, new Rng(9));
  const each = (b: Uint8Array, size: number, fn: (at: number) => void) => {
    for (let at = 0; at < b.length; at += size) fn(at);
  };
  // IQ4_XS at a typical std: f16 subnormal d (exponent bits 0), and negative 6-bit scales
  let subnormal = 0;
  let negative = 0;
  const iq = blocks(GgmlType.IQ4_XS, 0.0625);
  each(iq, 136, (at) => {
    if (((iq[at + 1]! >> 2) & 0x1f) === 0 && (iq[at]! | iq[at + 1]!) !== 0) subnormal++;
    if ((iq[at + 4]! & 0x0f) + ((iq[at + 2]! & 3) << 4) < 32) negative++;
  });
  assert.ok(subnormal > 32, `IQ4_XS: ${subnormal} subnormal super-scales of 64`);
  assert.ok(negative > 8 && negative < 56, `IQ4_XS: ${negative} negative first scales of 64`);
  // Q6_K: int8 scales of both signs, −128 among them
  const q6 = blocks(GgmlType.Q6_K, 0.0625);
  const scales: number[] = [];
  each(q6, 210, (at) => scales.push(...[...q6.subarray(at + 192, at + 208)].map((v) => (v << 24) >> 24)));
  assert.ok(scales.some((v) => v === -128) && scales.some((v) => v < 0) && scales.some((v) => v > 100));
  assert.ok(f16BitsToF32(q6[208]! | (q6[209]! << 8)) < 6.1e-5, 'Q6_K: subnormal d at std 0.0625');
  // Q3_K: signed 6-bit scales
  const q3 = blocks(GgmlType.Q3_K, 0.1);
  const s3: number[] = [];
  each(q3, 110, (at) => {
    for (let k = 0; k < 16; k++) s3.push(q3kScale(q3, at + 96, k) - 32);
  });
  assert.ok(s3.some((v) => v === -32) && s3.some((v) => v < -8) && s3.some((v) => v > 24));
  // Q4_K / Q5_K: scales with the high (packed) bits set, for sub-blocks 4–7 too
  for (const [type, size] of [[GgmlType.Q4_K, 144], [GgmlType.Q5_K, 176]] as const) {
    const k = blocks(type, 0.1);
    let high = 0;
    each(k, size, (at) => {
      if (k[at + 4]! >> 6 || k[at + 8]! >> 6) high++;
    });
    assert.ok(high > 32, `${ggmlTypeName(type)}: ${high} blocks with packed high bits`);
  }
  // MXFP4: exponents around 128 + log2(std / 5.85)
  const mx = blocks(GgmlType.MXFP4, 0.0625);
  const es = new Set<number>();
  each(mx, 17, (at) => es.add(mx[at]!));
  assert.deepEqual([...es].sort(), [121, 122]);
  // negative f16 d for the symmetric 32-blocks
  for (const [type, size] of [[GgmlType.Q5_0, 22], [GgmlType.IQ4_NL, 18]] as const) {
    const b = blocks(type, 0.1);
    let neg = 0;
    each(b, size, (at) => (neg += b[at + 1]! >> 7));
    const share = neg / (b.length / size);
    assert.ok(share > 0.3 && share < 0.7, `${ggmlTypeName(type)}: ${neg} negative d of ${b.length / size}`);
  }
});

function typesOf(input: ModelSpecInput): Record<string, string> {
  return Object.fromEntries(planTensors(resolveSpec(input)).map((p) => [p.name, ggmlTypeName(p.type)]));
}

test('useMoreBits is llama.cpp\'s use_more_bits', () => {
  const more = (n: number) => Array.from({ length: n }, (_, i) => i).filter((i) => useMoreBits(i, n));
  assert.deepEqual(more(2), [1]);
  assert.deepEqual(more(8), [0, 3, 6, 7]);
  assert.deepEqual(more(32), [0, 1, 2, 3, 6, 9, 12, 15, 18, 21, 24, 27, 28, 29, 30, 31]);
});

test('Q4_K_M with 8 experts: Q6_K output, Q8_0 attn_k/attn_v, Q5_K attn_output, Q6_K ffn_down on "more bits" layers', () => {
  const t = typesOf({ arch: 'qwen3moe', preset: 'tiny256', recipe: 'Q4_K_M' });
  assert.equal(t['token_embd.weight'], 'Q6_K'); // tied output
  assert.equal(t['blk.0.attn_q.weight'], 'Q4_K');
  assert.equal(t['blk.0.attn_k.weight'], 'Q8_0');
  assert.equal(t['blk.1.attn_v.weight'], 'Q8_0');
  assert.equal(t['blk.0.attn_output.weight'], 'Q5_K');
  assert.equal(t['blk.0.ffn_gate_exps.weight'], 'Q4_K');
  assert.equal(t['blk.0.ffn_up_exps.weight'], 'Q4_K');
  assert.equal(t['blk.0.ffn_down_exps.weight'], 'Q4_K');
  assert.equal(t['blk.1.ffn_down_exps.weight'], 'Q6_K');
  assert.equal(t['blk.0.ffn_gate_inp.weight'], 'F32'); // the router is never quantized
  assert.equal(t['blk.0.attn_norm.weight'], 'F32');
  const q2 = typesOf({ arch: 'qwen2moe', preset: 'tiny256', recipe: 'Q4_K_M' });
  assert.equal(q2['token_embd.weight'], 'Q4_K');
  assert.equal(q2['output.weight'], 'Q6_K');
  assert.equal(q2['blk.0.ffn_gate_shexp.weight'], 'Q4_K');
  assert.equal(q2['blk.0.ffn_down_shexp.weight'], 'Q5_0'); // 128-wide rows: Q4_K falls back
  assert.equal(q2['blk.1.ffn_down_shexp.weight'], 'Q8_0'); // Q6_K falls back
  assert.equal(q2['blk.0.ffn_gate_inp_shexp.weight'], 'F32');
});

test('Q4_K_M dense (no 8 experts): Q6_K attn_v and ffn_down on "more bits" layers, Q4_K attn_k/attn_output', () => {
  const t = typesOf({ arch: 'llama', preset: 'tiny256', recipe: 'Q4_K_M', n_expert: 0 });
  assert.deepEqual([t['blk.0.attn_v.weight'], t['blk.1.attn_v.weight']], ['Q4_K', 'Q6_K']);
  assert.deepEqual([t['blk.0.ffn_down.weight'], t['blk.1.ffn_down.weight']], ['Q4_K', 'Q6_K']);
  assert.deepEqual([t['blk.0.attn_k.weight'], t['blk.0.attn_output.weight'], t['blk.0.ffn_up.weight']], ['Q4_K', 'Q4_K', 'Q4_K']);
  assert.equal(t['output.weight'], 'Q6_K');
});

test('Q4_K_M on the tiny preset falls back like llama.cpp: Q5_0, Q5_1 (where K does not fit), Q8_0', () => {
  const t = typesOf({ arch: 'llama', preset: 'tiny', recipe: 'Q4_K_M' });
  assert.equal(t['token_embd.weight'], 'Q5_0');
  assert.equal(t['output.weight'], 'Q8_0'); // ne[0] = 128: Q8_0 straight away
  assert.equal(t['blk.0.attn_q.weight'], 'Q5_0');
  assert.equal(t['blk.0.attn_output.weight'], 'Q5_1'); // Q5_K → Q5_1
  assert.equal(t['blk.1.ffn_down_exps.weight'], 'Q8_0'); // Q6_K → Q8_0
  assert.equal(typesOf({ arch: 'qwen3moe', preset: 'tiny', recipe: 'Q4_K_M' })['blk.0.attn_output.weight'], 'Q5_K'); // 256-wide rows fit
  assert.equal(resolveSpec({ arch: 'llama', recipe: 'Q4_K_M' }).weightType, 'Q4_K');
});

test('tensorTypes: first matching pattern wins, overrides the recipe and the router; a misfit is an error', () => {
  const t = typesOf({
    arch: 'olmoe',
    preset: 'tiny256',
    recipe: 'Q4_K_M',
    tensorTypes: { 'blk.1.ffn_down_exps.weight': 'IQ4_XS', 'blk.*.ffn_down_exps.weight': 'Q2_K', 'blk.*.ffn_gate_inp.weight': 'F16' },
  });
  assert.deepEqual([t['blk.0.ffn_down_exps.weight'], t['blk.1.ffn_down_exps.weight'], t['blk.0.ffn_gate_inp.weight']], ['Q2_K', 'IQ4_XS', 'F16']);
  assert.equal(t['blk.0.attn_q.weight'], 'Q4_K');
  assert.throws(() => planTensors(resolveSpec({ arch: 'olmoe', weightType: 'Q8_0', tensorTypes: { 'blk.*.ffn_down_exps.weight': 'Q4_K' } })), /ffn_down_exps.*rows of 64 values, not a whole number of Q4_K blocks of 256/);
});

test('spec validation: K-quant widths, recipe base type, unknown types', () => {
  assert.throws(() => resolveSpec({ arch: 'llama', weightType: 'Q4_K' }), /n_embd = 128 must be a multiple of 256 for Q4_K.*tiny256/);
  assert.throws(() => resolveSpec({ arch: 'qwen2moe', preset: 'tiny256', weightType: 'Q6_K' }), /n_ff_shexp = 128 must be a multiple of 256/);
  assert.throws(() => resolveSpec({ arch: 'llama', recipe: 'Q4_K_M', weightType: 'Q8_0' }), /starts from Q4_K/);
  assert.throws(() => resolveSpec({ arch: 'llama', weightType: 'Q7_X' as never }), /weightType must be one of/);
  assert.throws(() => resolveSpec({ arch: 'llama', recipe: 'Q3_K_L' as never }), /recipe must be one of/);
  assert.throws(() => resolveSpec({ arch: 'llama', tensorTypes: { 'blk.*': 'Q9' as never } }), /tensorTypes\['blk\.\*'\]/);
  assert.equal(resolveSpec({ arch: 'llama', preset: 'tiny256', weightType: 'IQ4_XS' }).n_embd, 256);
});

test('a generated Q4_K_M file: planned types and bytes on disk; the engine loader and the reference both accept it', async () => {
  const spec = resolveSpec({ arch: 'qwen2moe', preset: 'tiny256', recipe: 'Q4_K_M' });
  const f = await openGguf(await ensureModel(spec));
  try {
    assert.equal(metaU32(f, 'general.file_type'), 15); // LLAMA_FTYPE_MOSTLY_Q4_K_M
    const plan = planTensors(spec);
    for (const p of plan) assert.equal(ggmlTypeName(f.tensorByName.get(p.name)!.type), ggmlTypeName(p.type), p.name);
    const p = plan.find((x) => x.name === 'blk.1.ffn_down_exps.weight')!;
    assert.deepEqual(await readTensorBytes(f, f.tensorByName.get(p.name)!), tensorBlocks(spec, p));
    assert.equal(readModelConfig(f).n_embd, 256);
    assert.equal(readModelConfig(f, { weightTypes: KNOWN_WEIGHT_TYPES }).n_embd, 256);
  } finally {
    await f.close();
  }
  // every format the generator can write has kernels on both backends
  assert.deepEqual(SUPPORTED_WEIGHT_TYPES.map(ggmlTypeName), KNOWN_WEIGHT_TYPES.map(ggmlTypeName));
});

test('GGUF writer: raw blocks are written as given; wrong sizes and unknown layouts are refused', async () => {
  const bytes = randomBlocks(GgmlType.Q6_K, 512, 0.1, new Rng(1));
  const path = join(dir, 'raw.gguf');
  await writeGguf(path, [], [{ name: 'w', dims: [256, 2], type: GgmlType.Q6_K, raw: true, data: () => bytes }]);
  const f = await openGguf(path);
  try {
    assert.deepEqual(await readTensorBytes(f, f.tensors[0]!), bytes);
  } finally {
    await f.close();
  }
  const fails = async (t: Parameters<typeof writeGguf>[2][number], code: string, msg: RegExp) => {
    await assert.rejects(writeGguf(join(dir, 'bad.gguf'), [], [t]), (e: unknown) => e instanceof GgufError && e.code === code && msg.test(e.message));
  };
  await fails({ name: 'w', dims: [256, 2], type: GgmlType.Q6_K, raw: true, data: () => bytes.subarray(1) }, 'BAD_SHAPE', /419 bytes.*needs 420/);
  await fails({ name: 'w', dims: [256, 2], type: GgmlType.Q6_K, raw: true, data: () => new Float32Array(512) }, 'BAD_ARGUMENT', /must return a Uint8Array/);
  await fails({ name: 'w', dims: [256], type: 31 as GgmlType, raw: true, data: () => bytes }, 'UNSUPPORTED_TYPE', /no known block layout/);
  await fails({ name: 'w', dims: [256], type: GgmlType.Q4_K, data: () => new Float32Array(256) }, 'UNSUPPORTED_TYPE', /cannot produce type Q4_K.*raw bytes/);
});
