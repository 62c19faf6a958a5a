/**
 * The WebGPU backend against llama.cpp (test/helpers/engine-conformance.ts) in every format beyond
 * F32/F16/Q8_0/Q4_0: each type on at least one architecture (32-wide blocks on the tiny preset, 256-wide on
 * tiny256), llama.cpp's Q4_K_M mix on all six MoE architectures, the mix on the tiny preset (every K-quant
 * falls back to Q5_0 / Q5_1 / Q8_0), a per-tensor mix of the rest, and row shards (a 16 KiB binding limit)
 * for K-quant planes. Targets as every quantised case: mean KL ≤ 1e-2, same top-1 at ≥ 95% of positions,
 * the same greedy tokens (ties decided by rounding allowed). Skips (with the reason) when no WebGPU adapter
 * is available.
 */
import assert from 'node:assert/strict';
import { MOE_ARCHS } from '../../tools/modelgen/model-spec.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';
import { conformanceSuite, type ConformanceCase } from '../helpers/engine-conformance.js';

const SHARD_BYTES = 16 * 1024;
const sharded = (r: { shardedMatrices: number }) => assert.ok(r.shardedMatrices > 0, `the ${SHARD_BYTES}-byte binding limit split no matrix into row shards`);
const q = (label: string, spec: ModelSpecInput, opts?: ConformanceCase['opts'], check?: ConformanceCase['check']): ConformanceCase => ({
  label,
  spec,
  target: spec.weightType === 'BF16' ? 'F16' : 'quantised',
  opts,
  check,
});

const CASES: ConformanceCase[] = [
  // each new type on one architecture
  q('grok BF16', { arch: 'grok', weightType: 'BF16' }),
  q('llama Q4_1', { arch: 'llama', weightType: 'Q4_1' }),
  q('qwen2moe Q5_0', { arch: 'qwen2moe', weightType: 'Q5_0' }),
  q('olmoe Q5_1', { arch: 'olmoe', weightType: 'Q5_1' }),
  q('granitemoe IQ4_NL', { arch: 'granitemoe', weightType: 'IQ4_NL' }),
  q('qwen3moe MXFP4', { arch: 'qwen3moe', weightType: 'MXFP4' }),
  q('llama Q2_K', { arch: 'llama', preset: 'tiny256', weightType: 'Q2_K' }),
  q('qwen3moe Q3_K', { arch: 'qwen3moe', preset: 'tiny256', weightType: 'Q3_K' }),
  q('olmoe Q4_K', { arch: 'olmoe', preset: 'tiny256', weightType: 'Q4_K' }),
  q('granitemoe Q5_K', { arch: 'granitemoe', preset: 'tiny256', weightType: 'Q5_K' }),
  q('grok Q6_K', { arch: 'grok', preset: 'tiny256', weightType: 'Q6_K' }),
  q('llama IQ4_XS', { arch: 'llama', preset: 'tiny256', weightType: 'IQ4_XS' }),
  // llama.cpp's Q4_K_M mix
  ...MOE_ARCHS.map((arch) => q(`${arch} Q4_K_M`, { arch, preset: 'tiny256', recipe: 'Q4_K_M' })),
  q('qwen3moe Q4_K_M tiny (fallbacks)', { arch: 'qwen3moe', preset: 'tiny', recipe: 'Q4_K_M' }),
  q('qwen2moe Q4_K_M shards 16K', { arch: 'qwen2moe', preset: 'tiny256', recipe: 'Q4_K_M' }, { maxBindingBytes: SHARD_BYTES }, sharded),
  // a per-tensor mix of the rest
  q('qwen2moe mix', {
    arch: 'qwen2moe',
    preset: 'tiny256',
    weightType: 'Q8_0',
    tensorTypes: { 'blk.*.ffn_gate_exps.weight': 'IQ4_XS', 'blk.*.ffn_up_exps.weight': 'Q5_1', 'blk.*.ffn_down_exps.weight': 'Q3_K', 'blk.*.attn_*': 'Q4_1', 'output.weight': 'Q2_K' },
  }),
];


const gpuUnavailable = (e: unknown) => e instanceof Error && (e.name === 'GpuUnavailableError' || /no (webgpu )?adapter|GpuUnavailable/i.test(e.message));

conformanceSuite('WebGPU backend vs llama.cpp: every GPU format', CASES, { backend: 'gpu' }, gpuUnavailable);
