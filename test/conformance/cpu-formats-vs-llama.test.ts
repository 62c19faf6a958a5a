/**
 * The CPU backend against llama.cpp on the formats whose CPU kernels came after the first four (BF16 and
 * the 32-value-block formats Q4_1, Q5_0, Q5_1, IQ4_NL, MXFP4; daemon/cpu/kernels/matmul_<fmt>.c), with
 * the targets of every engine conformance suite (test/helpers/engine-conformance.ts): quantised formats
 * mean KL ≤ 1e-2 and top-1 ≥ 95%, BF16 those of F16; greedy continuations the same up to near ties.
 * Generated models (random valid blocks; tools/modelgen) on the tiny preset: each format on two
 * architectures (the tied ones read token rows with dequantize_row_<fmt>), on three ranks (uneven splits of
 * the FFN columns, in whole blocks), a dense model, and one model mixing every format per tensor.
 * Each backend takes the types it has a kernel for (formats/table.ts weightTypesWithKernel); the WebGPU
 * backend's conformance on the same formats is gpu-formats-vs-llama.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hasKernel, requireFormat, weightTypesWithKernel } from '../../daemon/formats/table.js';
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

test('the loader takes these formats on both backends: each has a CPU kernel and a WGSL kernel', () => {
  for (const [type] of [...FORMATS, ['BF16'] as const]) {
    const f = requireFormat(GGML_TYPE_OF[type]);
    assert.ok(hasKernel(f, 'cpu') && weightTypesWithKernel('cpu').includes(f.type), `${type}: the CPU backend runs it`);
    assert.ok(hasKernel(f, 'wgsl') && weightTypesWithKernel('wgsl').includes(f.type), `${type}: the GPU backend runs it`);
  }
});

conformanceSuite('CPU backend vs llama.cpp, BF16 and 32-value-block formats', CASES, { backend: 'cpu', threads: 2 });
