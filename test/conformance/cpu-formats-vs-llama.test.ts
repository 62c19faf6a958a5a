/**
 * The CPU backend against llama.cpp on the formats whose CPU kernels came after the first four (BF16 and
 * the 32-value-block formats Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4; daemon/cpu/kernels/matmul_<fmt>.c), with
 * the targets of every engine conformance suite (test/helpers/engine-conformance.ts): quantised formats
 * mean KL ≤ 1e-2 and top-1 ≥ 95%, BF16 those of F16; greedy continuations the same up to near ties.
 * Generated models (random valid blocks; tools/modelgen) on the tiny preset: each format on two
 * architectures (the tied ones read token rows with dequantize_row_<fmt>), on three ranks (uneven splits of
 * the FFN columns, in whole blocks), a dense model, and one model mixing every format per tensor.
 * These formats have no WebGPU kernel yet, so the loader takes them only with the CPU backend chosen
 * (engine/model.ts: each backend takes the types it has a kernel for, formats/table.ts weightTypesWithKernel).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evalModel } from '../../daemon/cli/eval.js';
import { hasKernel, requireFormat, weightTypesWithKernel } from '../../daemon/formats/table.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { GGML_TYPE_OF, type MoeArch, type WeightTypeName } from '../../tools/modelgen/model-spec.js';
import { conformanceSuite, targetOf, type ConformanceCase } from '../helpers/engine-conformance.js';

const FORMATS: [WeightTypeName, MoeArch, MoeArch][] = [
  ['Q4_1', 'llama', 'qwen3moe'],
  ['Q5_0', 'qwen2moe', 'grok'],
  ['Q5_1', 'olmoe', 'llama'],
  ['IQ4_NL', 'granitemoe', 'qwen2moe'],
  ['MXFP4', 'qwen3moe', 'olmoe'],
];

const CASES: ConformanceCase[] = [
  ...FORMATS.flatMap(([type, a, b]) => [a, b].map((arch): ConformanceCase => ({ label: `${arch} ${type}`, spec: { arch, weightType: type }, target: targetOf(type) }))),
  { label: 'grok BF16', spec: { arch: 'grok', weightType: 'BF16' }, target: targetOf('BF16') },
  { label: 'qwen3moe Q4_1, 3 ranks', spec: { arch: 'qwen3moe', weightType: 'Q4_1' }, target: 'quantised', opts: { threads: 3 } },
  { label: 'qwen2moe MXFP4, 3 ranks', spec: { arch: 'qwen2moe', weightType: 'MXFP4' }, target: 'quantised', opts: { threads: 3 } },
  { label: 'llama dense Q5_1', spec: { arch: 'llama', weightType: 'Q5_1', n_expert: 0 }, target: 'quantised' },
  {
    label: 'qwen2moe per-tensor mix',
    spec: {
      arch: 'qwen2moe',
      weightType: 'Q8_0',
      tensorTypes: {
        'token_embd.weight': 'Q5_1',
        'blk.*.ffn_gate_exps.weight': 'IQ4_NL',
        'blk.*.ffn_up_exps.weight': 'Q5_1',
        'blk.*.ffn_down_exps.weight': 'MXFP4',
        'blk.*.ffn_*_shexp.weight': 'Q5_0',
        'blk.*.attn_*': 'Q4_1',
        'output.weight': 'BF16',
      },
    },
    target: 'quantised',
    opts: { threads: 3 },
  },
];

test('the loader takes these formats with the CPU backend chosen, and under gpu/auto only once they have WGSL kernels too', async () => {
  for (const [type] of [...FORMATS, ['BF16'] as const]) {
    const f = requireFormat(GGML_TYPE_OF[type]);
    assert.ok(hasKernel(f, 'cpu') && weightTypesWithKernel('cpu').includes(f.type), `${type}: the CPU backend runs it`);
    assert.equal(weightTypesWithKernel('wgsl').includes(f.type), hasKernel(f, 'wgsl'), `${type}: gpu accepts it exactly when it has a WGSL kernel`);
  }
  // a model in a format without a WGSL kernel, with the GPU backend asked for: refused before any device is made
  const gpuLess = FORMATS.map(([t]) => t).find((t) => !hasKernel(requireFormat(GGML_TYPE_OF[t]), 'wgsl'));
  if (!gpuLess) return; // every format here has its WGSL kernel: nothing is refused
  const path = await ensureModel({ arch: 'llama', weightType: gpuLess });
  await assert.rejects(evalModel(path, [1, 2, 3], 0, { backend: 'gpu' }), (e: unknown) => e instanceof GgufError && e.code === 'UNSUPPORTED_TYPE' && e.message.includes(`has type ${gpuLess}`));
});

conformanceSuite('CPU backend vs llama.cpp, BF16 and 32-value-block formats', CASES, { backend: 'cpu', threads: 2 });
