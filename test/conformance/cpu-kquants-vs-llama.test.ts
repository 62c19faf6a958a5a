/**
 * The CPU backend against llama.cpp on the formats with 256-value super-blocks and q8_K activations
 * (daemon/cpu/kernels/matmul-qk.h), with the targets of every quantised case (test/helpers/engine-
 * conformance.ts: mean KL ≤ 1e-2, top-1 ≥ 95%, the same greedy tokens up to ties): each of Q2_K, Q3_K,
 * Q4_K, Q5_K, Q6_K and IQ4_XS on one architecture (every matrix that type), and llama.cpp's Q4_K_M mix
 * (Q4_K, Q6_K output/attn_v/ffn_down, Q8_0 attn_k/attn_v and Q5_K attn_output with 8 experts) on all six.
 * The models are the 'tiny256' preset (every width a multiple of 256); qwen2moe's shared expert gets 256
 * columns too, so no tensor falls back to a 32-value format.
 */
import { MOE_ARCHS, type MoeArch, type ModelSpecInput, type WeightTypeName } from '../../tools/modelgen/model-spec.js';
import { conformanceSuite, type ConformanceCase } from '../helpers/engine-conformance.js';

const tiny256 = (arch: MoeArch): ModelSpecInput => ({ arch, preset: 'tiny256', ...(arch === 'qwen2moe' ? { n_ff_shexp: 256 } : {}) });

const ONE_TYPE: [WeightTypeName, MoeArch][] = [
  ['Q4_K', 'qwen3moe'],
  ['Q5_K', 'llama'],
  ['Q6_K', 'qwen2moe'],
  ['Q3_K', 'olmoe'],
  ['Q2_K', 'granitemoe'],
  ['IQ4_XS', 'grok'],
];

const CASES: ConformanceCase[] = [
  ...ONE_TYPE.map(([type, arch]): ConformanceCase => ({ label: `${arch} ${type}`, spec: { ...tiny256(arch), weightType: type }, target: 'quantised' })),
  ...MOE_ARCHS.map((arch): ConformanceCase => ({ label: `${arch} Q4_K_M`, spec: { ...tiny256(arch), recipe: 'Q4_K_M' }, target: 'quantised' })),
  { label: 'qwen3moe Q4_K_M, 3 ranks', spec: { ...tiny256('qwen3moe'), recipe: 'Q4_K_M' }, target: 'quantised', opts: { threads: 3 } },
];

conformanceSuite('CPU backend vs llama.cpp: K-quants and IQ4_XS', CASES, { backend: 'cpu', threads: 2 });
