import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GGML_BLOCK, GgmlType, GgufValueType } from '../../daemon/gguf/ggml-types.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import type { GgufValue } from '../../daemon/gguf/gguf-format.js';
import type { GgufFile, GgufTensorInfo } from '../../daemon/gguf/gguf-reader.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { meta, writeGguf } from '../../daemon/gguf/gguf-writer.js';
import type { GgufMetaEntry } from '../../daemon/gguf/gguf-writer.js';
import { checkModelConfig, readModelConfig, tensorNames } from '../../daemon/model/hparams.js';
import type { ArchName } from '../../daemon/model/hparams.js';
import { ropeMscale, yarnCorrDims } from '../../daemon/model/rope-scaling.js';

// ---------------------------------------------------------------------------------------------
// A tiny model description per arch, with tensor shapes written out from llama.cpp's
// load_arch_tensors (src/models/*.cpp), independently of daemon/model/hparams.ts.

interface TensorSpec { name: string; dims: number[]; type: GgmlType }
interface ModelSpec { meta: GgufMetaEntry[]; tensors: TensorSpec[] }

const E = 64; // n_embd
const H = 4; // n_head
const HKV = 2; // n_head_kv
const HD = 16; // head dim
const X = 4; // n_expert
const K = 2; // n_expert_used
const F = 32; // expert width
const L = 2; // n_layer
const V = 300; // n_vocab

/** gpt2-style byte-level vocabulary llama.cpp accepts: 256 byte tokens, then merged pairs. */
function vocab(n: number): { tokens: string[]; merges: string[] } {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const cs = [...bs];
  let extra = 0;
  for (let b = 0; b < 256; b++) if (!bs.includes(b)) { bs.push(b); cs.push(256 + extra++); }
  const byteTok = bs.map((_, i) => String.fromCodePoint(cs[i]!));
  const tokens = [...byteTok];
  const merges: string[] = [];
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (let i = 0; tokens.length < n - 1; i++) {
    const a = letters[i % 26]!;
    const b = letters[Math.floor(i / 26) % 26]!;
    if (tokens.includes(a + b)) continue;
    tokens.push(a + b);
    merges.push(`${a} ${b}`);
  }
  tokens.push('<|endoftext|>');
  return { tokens, merges };
}

interface Opts {
  n_expert?: number;
  tied?: boolean;
  key_length?: number;
  n_ff_shexp?: number;
  extraMeta?: GgufMetaEntry[];
  omitMeta?: string[];
  type?: GgmlType;
}

function buildSpec(arch: ArchName | string, o: Opts = {}): ModelSpec {
  const nx = o.n_expert ?? X;
  const hd = o.key_length ?? HD;
  const wt = o.type ?? GgmlType.F32;
  const v = vocab(V);
  const a = arch;
  const m: GgufMetaEntry[] = [
    meta.str('general.architecture', arch),
    meta.str('general.name', `tiny-${arch}`),
    meta.u32(`${a}.context_length`, 256),
    meta.u32(`${a}.embedding_length`, E),
    meta.u32(`${a}.block_count`, L),
    meta.u32(`${a}.attention.head_count`, H),
    meta.u32(`${a}.attention.head_count_kv`, arch === 'olmoe' ? H : HKV),
    meta.f32(`${a}.attention.layer_norm_rms_epsilon`, 1e-5),
    meta.f32(`${a}.rope.freq_base`, 500000),
    meta.str('tokenizer.ggml.model', 'gpt2'),
    meta.str('tokenizer.ggml.pre', 'default'),
    meta.arrStr('tokenizer.ggml.tokens', v.tokens),
    meta.arrI32('tokenizer.ggml.token_type', v.tokens.map((_, i) => (i === v.tokens.length - 1 ? 3 : 1))),
    meta.arrStr('tokenizer.ggml.merges', v.merges),
    meta.u32('tokenizer.ggml.bos_token_id', V - 1),
    meta.u32('tokenizer.ggml.eos_token_id', V - 1),
  ];
  if (nx > 0) {
    m.push(meta.u32(`${a}.expert_count`, nx), meta.u32(`${a}.expert_used_count`, K));
  }
  if (o.key_length !== undefined) {
    m.push(meta.u32(`${a}.attention.key_length`, hd), meta.u32(`${a}.attention.value_length`, hd));
  }
  // expert width key per arch (llama.cpp: qwen2moe/qwen3moe/grok read expert_feed_forward_length,
  // llama/olmoe/granitemoe use feed_forward_length for experts)
  if (arch === 'qwen2moe' || arch === 'qwen3moe' || arch === 'grok') {
    m.push(meta.u32(`${a}.expert_feed_forward_length`, F), meta.u32(`${a}.feed_forward_length`, 3 * F));
  } else {
    m.push(meta.u32(`${a}.feed_forward_length`, F));
  }
  const shexp = o.n_ff_shexp ?? (arch === 'qwen2moe' ? 48 : 0);
  if (shexp > 0) m.push(meta.u32(`${a}.expert_shared_feed_forward_length`, shexp));
  if (arch === 'granitemoe') m.push(meta.f32(`${a}.logit_scale`, 8));
  const metaOut = m.filter((e) => !(o.omitMeta ?? []).includes(e.key));
  metaOut.push(...(o.extraMeta ?? []));

  const ts: TensorSpec[] = [];
  const t = (name: string, dims: number[], type = wt) => ts.push({ name, dims, type });
  const fullQ = arch === 'qwen2moe' || arch === 'olmoe' || arch === 'grok' || arch === 'qwen2';
  const nq = fullQ ? E : H * hd;
  const nkv = (arch === 'olmoe' ? H : HKV) * hd;
  t('token_embd.weight', [E, V]);
  t('output_norm.weight', [E], GgmlType.F32);
  if (!o.tied) t('output.weight', [E, V]);
  const ffDense = arch === 'qwen2moe' || arch === 'qwen3moe' || arch === 'grok' ? 3 * F : F;
  for (let il = 0; il < L; il++) {
    const n = tensorNames(il);
    t(n.attn_norm, [E], GgmlType.F32);
    t(n.attn_q, [E, nq]);
    t(n.attn_k, [E, nkv]);
    t(n.attn_v, [E, nkv]);
    t(n.attn_output, [nq, E]);
    t(n.ffn_norm, [E], GgmlType.F32);
    if (arch === 'qwen3moe') {
      t(n.attn_q_norm, [hd], GgmlType.F32);
      t(n.attn_k_norm, [hd], GgmlType.F32);
    }
    if (arch === 'olmoe') {
      t(n.attn_q_norm, [E], GgmlType.F32);
      t(n.attn_k_norm, [E], GgmlType.F32);
    }
    if (arch === 'grok') {
      t(n.attn_output_norm, [E], GgmlType.F32);
      t(n.layer_output_norm, [E], GgmlType.F32);
    }
    if (nx > 0) {
      t(n.ffn_gate_inp, [E, nx], GgmlType.F32);
      t(n.ffn_gate_exps, [E, F, nx]);
      t(n.ffn_up_exps, [E, F, nx]);
      t(n.ffn_down_exps, [F, E, nx]);
      if (shexp > 0) {
        if (arch === 'qwen2moe') t(n.ffn_gate_inp_shexp, [E], GgmlType.F32);
        t(n.ffn_gate_shexp, [E, shexp]);
        t(n.ffn_up_shexp, [E, shexp]);
        t(n.ffn_down_shexp, [shexp, E]);
      }
    } else {
      t(n.ffn_gate, [E, ffDense]);
      t(n.ffn_up, [E, ffDense]);
      t(n.ffn_down, [ffDense, E]);
    }
  }
  return { meta: metaOut, tensors: ts };
}

/** An in-memory GgufFile equivalent to what openGguf returns for the spec (no file, no data). */
function fakeFile(spec: ModelSpec): GgufFile {
  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, GgufValueType>();
  const metadataArrayTypes = new Map<string, GgufValueType>();
  for (const e of spec.meta) {
    metadata.set(e.key, (typeof e.value === 'object' && e.value !== null ? [...(e.value as unknown[])] : e.value) as GgufValue);
    metadataTypes.set(e.key, e.type);
    if (e.arrayType !== undefined) metadataArrayTypes.set(e.key, e.arrayType);
  }
  const tensors: GgufTensorInfo[] = spec.tensors.map((t) => {
    const n = t.dims.reduce((x, y) => x * y, 1);
    const b = GGML_BLOCK[t.type];
    return { name: t.name, dims: t.dims, type: t.type, nElements: n, byteSize: b ? (n / b.blockSize) * b.typeSize : -1, part: 0, offset: 0 };
  });
  return {
    path: '/models/fake.gguf', version: 3, fileSize: 0, totalSize: 0, parts: [{ path: '/models/fake.gguf', fileSize: 0, dataOffset: 0 }], alignment: 32, dataOffset: 0,
    metadata, metadataTypes, metadataArrayTypes, tensors, tensorByName: new Map(tensors.map((t) => [t.name, t])),
    read: () => Promise.reject(new Error('no data')), close: () => Promise.resolve(),
  };
}

function modify(spec: ModelSpec, name: string, change: Partial<TensorSpec> | null): ModelSpec {
  const i = spec.tensors.findIndex((t) => t.name === name);
  assert.ok(i >= 0, `fixture has ${name}`);
  const tensors = [...spec.tensors];
  if (change === null) tensors.splice(i, 1);
  else tensors[i] = { ...tensors[i]!, ...change };
  return { ...spec, tensors };
}

const isErr = (code: string, ...res: RegExp[]) => (e: unknown) => {
  assert.ok(e instanceof GgufError, `expected GgufError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  for (const re of res) assert.match(e.message, re);
  return true;
};

const cfg = (arch: ArchName, o: Opts = {}) => readModelConfig(fakeFile(buildSpec(arch, o)));

// ---------------------------------------------------------------------------------------------

test('common hyperparameters are read for every arch', () => {
  for (const arch of ['grok', 'llama', 'qwen2moe', 'qwen3moe', 'olmoe', 'granitemoe'] as const) {
    const c = cfg(arch);
    assert.equal(c.arch, arch);
    assert.equal(c.name, `tiny-${arch}`);
    assert.equal(c.n_ctx_train, 256);
    assert.equal(c.n_embd, E);
    assert.equal(c.n_layer, L);
    assert.equal(c.n_head, H);
    assert.equal(c.n_head_kv, arch === 'olmoe' ? H : HKV);
    assert.equal(c.n_embd_head_k, E / H);
    assert.equal(c.n_embd_head_v, E / H);
    assert.equal(c.n_rot, E / H);
    assert.equal(c.rope_freq_base, 500000);
    assert.equal(c.rope_freq_scale, 1);
    assert.equal(c.f_norm_rms_eps, Math.fround(1e-5));
    assert.equal(c.n_vocab, V);
    assert.equal(c.n_expert, X);
    assert.equal(c.n_expert_used, K);
    assert.equal(c.n_ff_exp, F, `${arch} expert width`);
    assert.equal(c.bos_token_id, V - 1);
    assert.equal(c.eos_token_id, V - 1);
    assert.equal(c.tied_output, false);
    assert.equal(c.tensors.output, 'output.weight');
    assert.equal(c.tensors.layers.length, L);
    assert.equal(c.tensors.layers[1]!.ffn_down_exps, 'blk.1.ffn_down_exps.weight');
    assert.equal(c.expert_gate, true);
  }
});

test('per-arch semantics follow llama.cpp (rope type, norms, shared experts, scales)', () => {
  const llama = cfg('llama');
  assert.deepEqual(
    [llama.rope_type, llama.expert_weights_norm, llama.shared_expert, llama.ffn_act, llama.qk_norm, llama.attn_post_norm, llama.f_embedding_scale, llama.f_logit_mul, llama.f_attention_scale, llama.f_attn_logit_softcapping],
    ['norm', true, 'none', 'silu', 'none', false, 1, 1, 0, 0],
  );
  const q2 = cfg('qwen2moe');
  assert.deepEqual([q2.rope_type, q2.expert_weights_norm, q2.shared_expert, q2.n_ff_shexp, q2.qk_norm], ['neox', false, 'sigmoid-gated', 48, 'none']);
  assert.equal(q2.tensors.layers[0]!.ffn_gate_inp_shexp, 'blk.0.ffn_gate_inp_shexp.weight');
  const q3 = cfg('qwen3moe');
  assert.deepEqual([q3.rope_type, q3.expert_weights_norm, q3.shared_expert, q3.qk_norm], ['neox', true, 'none', 'per-head']);
  assert.equal(q3.tensors.layers[1]!.attn_k_norm, 'blk.1.attn_k_norm.weight');
  const ol = cfg('olmoe');
  assert.deepEqual([ol.rope_type, ol.expert_weights_norm, ol.shared_expert, ol.qk_norm], ['neox', false, 'none', 'full']);
  const gr = cfg('granitemoe');
  assert.deepEqual([gr.rope_type, gr.expert_weights_norm, gr.shared_expert, gr.f_logit_mul, gr.f_residual_scale, gr.f_embedding_scale, gr.f_attention_scale], ['norm', true, 'none', 1 / 8, 1, 1, 0]);
  const gk = cfg('grok');
  assert.deepEqual([gk.rope_type, gk.expert_weights_norm, gk.ffn_act, gk.attn_post_norm, gk.ffn_post_norm, gk.f_attention_scale], ['neox', true, 'gelu', true, true, 1]);
  // grok defaults for old GGUFs (src/models/grok.cpp)
  assert.equal(gk.f_embedding_scale, Math.fround(78.38367176906169));
  assert.equal(gk.f_logit_mul, Math.fround(0.5773502691896257));
  assert.equal(gk.f_attn_out_scale, Math.fround(0.08838834764831845));
  assert.equal(gk.f_attn_logit_softcapping, 30);
  assert.equal(gk.f_final_logit_softcapping, 0);
  assert.equal(gk.tensors.layers[0]!.ffn_post_norm, 'blk.0.layer_output_norm.weight');
  assert.equal(gk.tensors.layers[0]!.attn_output_norm, 'blk.0.attn_output_norm.weight');
  assert.equal(gk.moe_dense_parallel, false);
});

test('grok and granitemoe read their scale keys; granitemoe needs logit_scale', () => {
  const gk = cfg('grok', { extraMeta: [
    meta.f32('grok.embedding_scale', 2), meta.f32('grok.logit_scale', 0.25), meta.f32('grok.attention.output_scale', 0.5),
    meta.f32('grok.attn_logit_softcapping', 20), meta.f32('grok.final_logit_softcapping', 15),
  ] });
  assert.deepEqual([gk.f_embedding_scale, gk.f_logit_mul, gk.f_attn_out_scale, gk.f_attn_logit_softcapping, gk.f_final_logit_softcapping], [2, 0.25, 0.5, 20, 15]);
  const gr = cfg('granitemoe', { n_ff_shexp: 40, extraMeta: [
    meta.f32('granitemoe.residual_scale', 0.25), meta.f32('granitemoe.embedding_scale', 12), meta.f32('granitemoe.attention.scale', 0.125),
  ] });
  assert.deepEqual([gr.f_residual_scale, gr.f_embedding_scale, gr.f_attention_scale, gr.shared_expert, gr.n_ff_shexp], [0.25, 12, 0.125, 'unweighted', 40]);
  assert.equal(gr.tensors.layers[0]!.ffn_up_shexp, 'blk.0.ffn_up_shexp.weight');
  assert.equal(gr.tensors.layers[0]!.ffn_gate_inp_shexp, undefined);
  // logit_scale 3 → multiply by the float 1/3
  assert.equal(cfg('granitemoe', { omitMeta: ['granitemoe.logit_scale'], extraMeta: [meta.f32('granitemoe.logit_scale', 3)] }).f_logit_mul, Math.fround(1 / 3));
  assert.throws(() => cfg('granitemoe', { omitMeta: ['granitemoe.logit_scale'] }), isErr('MISSING_KEY', /'granitemoe\.logit_scale'/));
  // llama ignores granite/grok keys, as llama.cpp does
  const ll = cfg('llama', { extraMeta: [meta.f32('llama.embedding_scale', 5), meta.f32('llama.logit_scale', 5), meta.f32('llama.attention.scale', 5)] });
  assert.deepEqual([ll.f_embedding_scale, ll.f_logit_mul, ll.f_attention_scale], [1, 1, 0]);
});

test('expert width fallbacks: qwen n_ff / n_expert_used, qwen2moe shared width = n_ff', () => {
  const q3 = readModelConfig(fakeFile((() => {
    const s = buildSpec('qwen3moe', { omitMeta: ['qwen3moe.expert_feed_forward_length', 'qwen3moe.feed_forward_length'] });
    s.meta.push(meta.u32('qwen3moe.feed_forward_length', F * K));
    return s;
  })()));
  assert.equal(q3.n_ff_exp, F);
  const s2 = buildSpec('qwen2moe', { omitMeta: ['qwen2moe.expert_shared_feed_forward_length'] });
  assert.throws(() => readModelConfig(fakeFile(s2)), isErr('BAD_SHAPE', /blk\.0\.ffn_gate_shexp\.weight.*\[64, 48\].*expected \[64, 96\]/));
});

test('qwen3moe head size may differ from n_embd/n_head; q/o shapes follow it', () => {
  const c = cfg('qwen3moe', { key_length: 32 });
  assert.equal(c.n_embd_head_k, 32);
  assert.equal(c.n_rot, 32);
  const bad = buildSpec('olmoe', { key_length: 32 });
  assert.throws(() => readModelConfig(fakeFile(bad)), isErr('BAD_SHAPE', /olmoe.*n_embd/));
});

test('dense variants: llama and granitemoe without experts; the others refuse', () => {
  for (const arch of ['llama', 'granitemoe'] as const) {
    const c = cfg(arch, { n_expert: 0 });
    assert.equal(c.n_expert, 0);
    assert.equal(c.n_expert_used, 0);
    assert.equal(c.n_ff, F);
    assert.equal(c.n_ff_exp, 0);
    assert.equal(c.expert_weights_norm, false);
    assert.equal(c.tensors.layers[0]!.ffn_gate, 'blk.0.ffn_gate.weight');
    assert.equal(c.tensors.layers[0]!.ffn_gate_inp, undefined);
  }
  for (const arch of ['grok', 'qwen2moe', 'qwen3moe', 'olmoe'] as const) {
    assert.throws(() => cfg(arch, { n_expert: 0 }), isErr('UNSUPPORTED_FEATURE', new RegExp(`${arch} requires '${arch}\\.expert_count' > 0`)));
  }
});

test('tied output: allowed for llama, grok, qwen3moe, granitemoe; required output for qwen2moe, olmoe', () => {
  for (const arch of ['llama', 'grok', 'qwen3moe', 'granitemoe'] as const) {
    const c = cfg(arch, { tied: true });
    assert.equal(c.tied_output, true);
    assert.equal(c.tensors.output, 'token_embd.weight');
  }
  for (const arch of ['qwen2moe', 'olmoe'] as const) {
    assert.throws(() => cfg(arch, { tied: true }), isErr('MISSING_TENSOR', /'output\.weight'/));
  }
});

test('optional tensors: ffn_gate_exps, biases, grok post_ffw_norm and dense FFN, rope_freqs', () => {
  // llama without gate_exps in every layer → act(up); missing in one layer only → refused
  let s = buildSpec('llama');
  for (let il = 0; il < L; il++) s = modify(s, `blk.${il}.ffn_gate_exps.weight`, null);
  assert.equal(readModelConfig(fakeFile(s)).expert_gate, false);
  assert.throws(() => readModelConfig(fakeFile(modify(buildSpec('llama'), 'blk.1.ffn_gate_exps.weight', null))), isErr('UNSUPPORTED_FEATURE', /ffn_gate_exps.*layer 1/));
  // qwen3moe requires gate_exps
  assert.throws(() => readModelConfig(fakeFile(modify(buildSpec('qwen3moe'), 'blk.1.ffn_gate_exps.weight', null))), isErr('MISSING_TENSOR', /'blk\.1\.ffn_gate_exps\.weight' \[64, 32, 4\]/));

  // q/k/v biases (qwen2moe) with their shapes; olmoe ignores them like llama.cpp
  const withBias = (arch: ArchName) => {
    const b = buildSpec(arch);
    const nq = arch === 'llama' ? H * HD : E;
    const nkv = (arch === 'olmoe' ? H : HKV) * HD;
    for (let il = 0; il < L; il++) {
      b.tensors.push({ name: `blk.${il}.attn_q.bias`, dims: [nq], type: GgmlType.F32 }, { name: `blk.${il}.attn_k.bias`, dims: [nkv], type: GgmlType.F32 }, { name: `blk.${il}.attn_v.bias`, dims: [nkv], type: GgmlType.F32 });
    }
    return b;
  };
  const q2 = readModelConfig(fakeFile(withBias('qwen2moe')));
  assert.deepEqual(q2.attn_bias, { q: true, k: true, v: true, o: false });
  assert.equal(q2.tensors.layers[1]!.attn_v_bias, 'blk.1.attn_v.bias');
  assert.deepEqual(readModelConfig(fakeFile(withBias('olmoe'))).attn_bias, { q: false, k: false, v: false, o: false });
  assert.throws(() => readModelConfig(fakeFile(modify(withBias('qwen2moe'), 'blk.0.attn_k.bias', { dims: [E] }))), isErr('BAD_SHAPE', /'blk\.0\.attn_k\.bias' has shape \[64\], expected \[32\]/));

  // grok: post_ffw_norm instead of layer_output_norm; dense parallel FFN
  let g = buildSpec('grok');
  for (let il = 0; il < L; il++) g = modify(g, `blk.${il}.layer_output_norm.weight`, { name: `blk.${il}.post_ffw_norm.weight` });
  assert.equal(readModelConfig(fakeFile(g)).tensors.layers[1]!.ffn_post_norm, 'blk.1.post_ffw_norm.weight');
  g = buildSpec('grok');
  for (let il = 0; il < L; il++) {
    g.tensors.push({ name: `blk.${il}.ffn_gate.weight`, dims: [E, 3 * F], type: GgmlType.F32 }, { name: `blk.${il}.ffn_up.weight`, dims: [E, 3 * F], type: GgmlType.F32 }, { name: `blk.${il}.ffn_down.weight`, dims: [3 * F, E], type: GgmlType.F32 });
  }
  const gd = readModelConfig(fakeFile(g));
  assert.equal(gd.moe_dense_parallel, true);
  assert.equal(gd.n_ff, 3 * F);

  // llama rope_freqs {n_rot/2}
  const r = buildSpec('llama');
  r.tensors.push({ name: 'rope_freqs.weight', dims: [HD / 2], type: GgmlType.F32 });
  const rc = readModelConfig(fakeFile(r));
  assert.equal(rc.rope_freq_factors, true);
  assert.equal(rc.tensors.rope_freqs, 'rope_freqs.weight');
});

test('rope scaling: linear factor → freq_scale = 1/factor; none → 1; longrope refused', () => {
  assert.equal(cfg('llama', { extraMeta: [meta.f32('llama.rope.scaling.factor', 4)] }).rope_freq_scale, 0.25);
  assert.equal(cfg('llama', { extraMeta: [meta.f32('llama.rope.scale_linear', 2)] }).rope_freq_scale, 0.5);
  assert.equal(cfg('llama', { extraMeta: [meta.str('llama.rope.scaling.type', 'none'), meta.f32('llama.rope.scaling.factor', 4)] }).rope_freq_scale, 1);
  const lin = cfg('llama', { extraMeta: [meta.f32('llama.rope.scaling.factor', 4), meta.f32('llama.rope.scaling.attn_factor', 0.5)] }).rope;
  assert.deepEqual(lin, { freq_base: 500000, freq_scale: 0.25, attn_factor: 0.5, ext_factor: 0, beta_fast: 32, beta_slow: 1, n_ctx_orig: 256 });
  assert.throws(() => cfg('qwen3moe', { extraMeta: [meta.str('qwen3moe.rope.scaling.type', 'longrope')] }), isErr('UNSUPPORTED_FEATURE', /'qwen3moe\.rope\.scaling\.type' = 'longrope'/));
  assert.throws(() => cfg('llama', { extraMeta: [meta.str('llama.rope.scaling.type', 'bogus')] }), isErr('BAD_VALUE_TYPE', /bogus/));
});

test('YaRN: ext_factor 1, beta 32/1, n_ctx_orig from original_context_length, the attention factor as llama_context computes it', () => {
  const yarn = (arch: ArchName, extra: GgufMetaEntry[] = []) =>
    cfg(arch, { extraMeta: [meta.str(`${arch}.rope.scaling.type`, 'yarn'), meta.f32(`${arch}.rope.scaling.factor`, 4), ...extra] });
  const q = yarn('qwen3moe', [meta.u32('qwen3moe.rope.scaling.original_context_length', 128)]);
  assert.equal(q.rope_scaling_type, 'yarn');
  assert.equal(q.rope.freq_scale, 0.25);
  assert.equal(q.rope.ext_factor, 1);
  assert.equal(q.rope.beta_fast, 32);
  assert.equal(q.rope.beta_slow, 1);
  assert.equal(q.rope.n_ctx_orig, 128);
  // get_mscale(4, 1) · 1/(1 + 0.1·ln 4) = 1 up to f32 rounding; rope_yarn multiplies 1 + 0.1·ln 4 back in
  assert.ok(Math.abs(q.rope.attn_factor - 1) < 1e-6, `attn_factor ${q.rope.attn_factor}`);
  assert.ok(Math.abs(ropeMscale(q.rope) - (1 + 0.1 * Math.log(4))) < 1e-6, `mscale ${ropeMscale(q.rope)}`);
  assert.equal(yarn('llama').rope.n_ctx_orig, 256, 'without original_context_length: the training context');
  assert.ok(Math.abs(yarn('llama', [meta.f32('llama.rope.scaling.attn_factor', 0.5)]).rope.attn_factor - 0.5) < 1e-6);
  // only grok reads the YaRN keys (src/models/grok.cpp); its beta_fast defaults to 8
  const g = cfg('grok', { extraMeta: [meta.f32('grok.rope.scaling.yarn_ext_factor', 0.5), meta.f32('grok.rope.scaling.yarn_beta_slow', 2), meta.f32('grok.rope.scaling.factor', 2)] });
  assert.deepEqual([g.rope.ext_factor, g.rope.beta_fast, g.rope.beta_slow, g.rope_scaling_type], [0.5, 8, 2, 'linear']);
  assert.equal(cfg('qwen3moe', { extraMeta: [meta.f32('qwen3moe.rope.scaling.yarn_ext_factor', 0.5)] }).rope.ext_factor, 0, 'other archs ignore the key');
  // the correction dims of that qwen3moe model: n_rot 16, base 5e5, n_ctx_orig 128
  const [low, high] = yarnCorrDims(HD, 128, 500000, 32, 1);
  const dim = (beta: number) => (HD * Math.log(128 / (beta * 2 * Math.PI))) / (2 * Math.log(500000));
  assert.deepEqual([low, high], [Math.max(0, Math.floor(dim(32))), Math.min(HD - 1, Math.ceil(dim(1)))]);
});

test('qwen2: dense, q and attn_output n_embd wide, q/k/v biases, NEOX, tied output allowed; experts and output.bias refused', () => {
  const spec = buildSpec('qwen2', { n_expert: 0 });
  for (let il = 0; il < L; il++) spec.tensors.push({ name: `blk.${il}.attn_q.bias`, dims: [E], type: GgmlType.F32 }, { name: `blk.${il}.attn_k.bias`, dims: [HKV * HD], type: GgmlType.F32 }, { name: `blk.${il}.attn_v.bias`, dims: [HKV * HD], type: GgmlType.F32 });
  const c = readModelConfig(fakeFile(spec));
  assert.equal(c.arch, 'qwen2');
  assert.equal(c.rope_type, 'neox');
  assert.equal(c.n_expert, 0);
  assert.equal(c.n_ff, F);
  assert.deepEqual(c.attn_bias, { q: true, k: true, v: true, o: false });
  assert.deepEqual(c.ffn_bias, { gate: false, up: false, down: false });
  assert.equal(c.tensors.layers[0]!.attn_q_bias, 'blk.0.attn_q.bias');
  assert.equal(readModelConfig(fakeFile(buildSpec('qwen2', { n_expert: 0, tied: true }))).tied_output, true);
  assert.throws(() => readModelConfig(fakeFile(buildSpec('qwen2'))), isErr('UNSUPPORTED_FEATURE', /qwen2 is a dense architecture/));
  // the collecting check lists it as a problem instead of throwing (moecode info, discovery)
  const collected = checkModelConfig(fakeFile(buildSpec('qwen2')));
  assert.ok(collected.problems.some((p) => /qwen2 is a dense architecture/.test(p.message)), JSON.stringify(collected.problems.map((p) => p.message)));
  const ob = buildSpec('qwen2', { n_expert: 0 });
  ob.tensors.push({ name: 'output.bias', dims: [V], type: GgmlType.F32 });
  assert.throws(() => readModelConfig(fakeFile(ob)), isErr('UNSUPPORTED_FEATURE', /output\.bias/));
});

test('old Mixtral files: one 2-D tensor per expert (llama, grok) → expert_layout per-expert, each validated', () => {
  const perExpert = (arch: ArchName) => {
    let s = buildSpec(arch);
    for (let il = 0; il < L; il++) {
      for (const n of ['ffn_gate', 'ffn_up', 'ffn_down'] as const) {
        s = modify(s, `blk.${il}.${n}_exps.weight`, null);
        for (let e = 0; e < X; e++) s.tensors.push({ name: `blk.${il}.${n}.${e}.weight`, dims: n === 'ffn_down' ? [F, E] : [E, F], type: GgmlType.F32 });
      }
    }
    return s;
  };
  const c = readModelConfig(fakeFile(perExpert('llama')));
  assert.equal(c.expert_layout, 'per-expert');
  assert.equal(c.expert_gate, true);
  assert.equal(c.tensors.layers[1]!.ffn_up_exp![X - 1], `blk.1.ffn_up.${X - 1}.weight`);
  assert.equal(c.tensors.layers[1]!.ffn_up_exps, undefined);
  assert.equal(readModelConfig(fakeFile(perExpert('grok'))).expert_layout, 'per-expert');
  assert.equal(readModelConfig(fakeFile(buildSpec('llama'))).expert_layout, 'merged');
  // a missing expert, a wrong shape, other archs
  assert.throws(() => readModelConfig(fakeFile(modify(perExpert('llama'), 'blk.1.ffn_down.2.weight', null))), isErr('MISSING_TENSOR', /'blk\.1\.ffn_down\.2\.weight'/));
  assert.throws(() => readModelConfig(fakeFile(modify(perExpert('llama'), 'blk.0.ffn_up.1.weight', { dims: [E, 2 * F] }))), isErr('BAD_SHAPE', /'blk\.0\.ffn_up\.1\.weight'/));
  assert.throws(() => readModelConfig(fakeFile(perExpert('qwen3moe'))), isErr('MISSING_TENSOR', /ffn_gate_exps/));
});

test('per-layer arrays are accepted when uniform, refused when they vary', () => {
  const s = buildSpec('qwen3moe', { omitMeta: ['qwen3moe.attention.head_count_kv'] });
  s.meta.push(meta.arrI32('qwen3moe.attention.head_count_kv', [HKV, HKV]));
  assert.equal(readModelConfig(fakeFile(s)).n_head_kv, HKV);
  const v = buildSpec('qwen3moe', { omitMeta: ['qwen3moe.attention.head_count_kv'] });
  v.meta.push(meta.arrI32('qwen3moe.attention.head_count_kv', [HKV, 4]));
  assert.throws(() => readModelConfig(fakeFile(v)), isErr('UNSUPPORTED_FEATURE', /head_count_kv.*layer 0: 2, layer 1: 4/));
  const w = buildSpec('qwen3moe', { omitMeta: ['qwen3moe.attention.head_count_kv'] });
  w.meta.push(meta.arrI32('qwen3moe.attention.head_count_kv', [HKV, HKV, HKV]));
  assert.throws(() => readModelConfig(fakeFile(w)), isErr('BAD_VALUE_TYPE', /expected 2.*got 3/));
});

test('errors name the problem: arch, keys, tensors, shapes, types', () => {
  assert.throws(() => readModelConfig(fakeFile(buildSpec('mamba'))), isErr('UNSUPPORTED_ARCH', /'mamba'/, /grok, llama, qwen2, qwen2moe, qwen3moe, olmoe, granitemoe/));
  assert.throws(() => readModelConfig(fakeFile(buildSpec('llama', { omitMeta: ['general.architecture'] }))), isErr('MISSING_KEY', /'general\.architecture'/));
  assert.throws(() => cfg('llama', { omitMeta: ['llama.embedding_length'] }), isErr('MISSING_KEY', /'llama\.embedding_length'/));
  assert.throws(() => cfg('qwen3moe', { omitMeta: ['qwen3moe.attention.layer_norm_rms_epsilon'] }), isErr('MISSING_KEY', /layer_norm_rms_epsilon/));
  assert.throws(() => cfg('llama', { omitMeta: ['llama.attention.layer_norm_rms_epsilon'], extraMeta: [meta.str('llama.attention.layer_norm_rms_epsilon', '1e-5')] }), isErr('BAD_VALUE_TYPE', /layer_norm_rms_epsilon' has type STRING, expected FLOAT32/));
  assert.throws(() => cfg('llama', { omitMeta: ['llama.expert_used_count'], extraMeta: [meta.u32('llama.expert_used_count', 5)] }), isErr('BAD_VALUE_TYPE', /expert_used_count' = 5 exceeds/));
  assert.throws(() => cfg('olmoe', { omitMeta: ['olmoe.attention.head_count_kv'], extraMeta: [meta.u32('olmoe.attention.head_count_kv', 2)] }), isErr('BAD_SHAPE', /head_count_kv \(2\) must equal head_count \(4\)/));
  assert.throws(() => cfg('llama', { omitMeta: ['llama.attention.head_count_kv'], extraMeta: [meta.u32('llama.attention.head_count_kv', 3)] }), isErr('BAD_SHAPE', /multiple/));
  assert.throws(() => cfg('llama', { extraMeta: [meta.u32('llama.rope.dimension_count', 8)] }), isErr('BAD_SHAPE', /rope\.dimension_count 8/));

  const base = buildSpec('qwen3moe');
  assert.throws(() => readModelConfig(fakeFile(modify(base, 'blk.1.ffn_up_exps.weight', null))), isErr('MISSING_TENSOR', /'blk\.1\.ffn_up_exps\.weight'/));
  assert.throws(() => readModelConfig(fakeFile(modify(base, 'blk.0.attn_q.weight', { dims: [E, 48] }))), isErr('BAD_SHAPE', /'blk\.0\.attn_q\.weight' has shape \[64, 48\], expected \[64, 64\]/));
  assert.throws(() => readModelConfig(fakeFile(modify(base, 'token_embd.weight', { dims: [E, V + 1] }))), isErr('BAD_SHAPE', /token_embd.*\[64, 301\].*\[64, 300\]/));
  assert.throws(() => readModelConfig(fakeFile(modify(base, 'blk.0.ffn_down_exps.weight', { dims: [E, F, X] }))), isErr('BAD_SHAPE', /ffn_down_exps.*expected \[32, 64, 4\]/));
  assert.throws(() => readModelConfig(fakeFile(modify(base, 'blk.0.attn_norm.weight', { type: GgmlType.F16 }))), isErr('UNSUPPORTED_TYPE', /'blk\.0\.attn_norm\.weight' has type F16.*norms\/biases: F32/));
  assert.throws(() => readModelConfig(fakeFile(modify(base, 'blk.1.ffn_up_exps.weight', { type: GgmlType.I32 }))), isErr('UNSUPPORTED_TYPE', /'blk\.1\.ffn_up_exps\.weight' has type I32; supported for matrices: F32, F16, BF16, Q8_0, Q4_0, .*Q4_K.*MXFP4/));
  assert.throws(() => readModelConfig(fakeFile(modify(base, 'output.weight', { type: 99 as GgmlType }))), isErr('UNSUPPORTED_TYPE', /'output\.weight' has type unknown\(99\) \(unknown to ggml\)/));
  // a trailing dimension of 1 is the same shape (llama.cpp's check_tensor_dims)
  assert.equal(readModelConfig(fakeFile(modify(base, 'output_norm.weight', { dims: [E, 1] }))).n_embd, E);
  // quantized matrices are fine
  assert.equal(cfg('qwen3moe', { type: GgmlType.Q8_0 }).n_embd, E);
  assert.equal(cfg('llama', { type: GgmlType.Q4_0 }).n_embd, E);
});

test('name falls back to the file basename', () => {
  const f = fakeFile(buildSpec('llama', { omitMeta: ['general.name'] }));
  assert.equal(readModelConfig(f).name, 'fake');
});

// ---------------------------------------------------------------------------------------------
// Cross-check with llama.cpp itself: every fixture readModelConfig accepts, llama.cpp loads; a
// shape it rejects, llama.cpp rejects too.

let dir = '';
type LlamaLike = { loadModel(o: { modelPath: string; gpuLayers: number }): Promise<{ dispose(): Promise<void> }>; dispose(): Promise<void> };
let llama: LlamaLike | undefined;
let llamaError = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'hparams-'));
  try {
    const mod = await import('node-llama-cpp');
    llama = (await mod.getLlama({ gpu: false, build: 'never', logLevel: mod.LlamaLogLevel.error, logger: () => undefined })) as unknown as LlamaLike;
  } catch (e) {
    llamaError = String(e);
  }
});
after(async () => {
  await llama?.dispose();
  await rm(dir, { recursive: true, force: true });
});

async function writeSpec(spec: ModelSpec, path: string): Promise<void> {
  await writeGguf(path, spec.meta, spec.tensors.map((t) => ({
    ...t,
    data: () => new Float32Array(t.dims.reduce((x, y) => x * y, 1)).map((_, i) => Math.sin(i) * 0.02),
  })));
}

async function llamaLoads(path: string): Promise<boolean> {
  try {
    const m = await llama!.loadModel({ modelPath: path, gpuLayers: 0 });
    await m.dispose();
    return true;
  } catch {
    return false;
  }
}

test('llama.cpp loads what readModelConfig accepts, through a real file (writer → reader)', async (t) => {
  if (!llama) return t.skip(`node-llama-cpp unavailable: ${llamaError}`);
  const fixtures: [string, ModelSpec][] = [
    ...(['grok', 'llama', 'qwen2moe', 'qwen3moe', 'olmoe', 'granitemoe'] as const).map((a) => [a, buildSpec(a, { type: a === 'llama' ? GgmlType.Q8_0 : GgmlType.F32 })] as [string, ModelSpec]),
    ['qwen3moe-hd32-tied', buildSpec('qwen3moe', { key_length: 32, tied: true })],
    ['llama-dense', buildSpec('llama', { n_expert: 0 })],
    ['granitemoe-shexp', buildSpec('granitemoe', { n_ff_shexp: 40 })],
  ];
  for (const [name, spec] of fixtures) {
    const path = join(dir, `${name}.gguf`);
    await writeSpec(spec, path);
    const f = await openGguf(path);
    try {
      readModelConfig(f);
    } finally {
      await f.close();
    }
    assert.ok(await llamaLoads(path), `llama.cpp loads ${name}`);
  }
});

test('llama.cpp also refuses what readModelConfig refuses (shape, missing tensor, dense qwen3moe)', async (t) => {
  if (!llama) return t.skip(`node-llama-cpp unavailable: ${llamaError}`);
  const bad: [string, ModelSpec][] = [
    ['q-shape', modify(buildSpec('qwen3moe'), 'blk.0.attn_q.weight', { dims: [E, 48] })],
    ['no-up-exps', modify(buildSpec('olmoe'), 'blk.1.ffn_up_exps.weight', null)],
    ['qwen2moe-tied', buildSpec('qwen2moe', { tied: true })],
    ['qwen3moe-dense', buildSpec('qwen3moe', { n_expert: 0 })],
  ];
  for (const [name, spec] of bad) {
    const path = join(dir, `bad-${name}.gguf`);
    await writeSpec(spec, path);
    const f = await openGguf(path);
    try {
      assert.throws(() => readModelConfig(f), GgufError, name);
    } finally {
      await f.close();
    }
    assert.equal(await llamaLoads(path), false, `llama.cpp refuses ${name}`);
  }
});
