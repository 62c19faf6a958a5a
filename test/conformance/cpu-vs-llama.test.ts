/**
 * The CPU backend (WebAssembly SIMD, tensor-parallel ranks) against llama.cpp, with the same cases and
 * targets as the WebGPU backend (test/helpers/engine-conformance.ts): six architectures × F32/F16/Q8_0/Q4_0,
 * dense models, a 300-token prompt; plus rank counts that split the tiny models unevenly (3 ranks: a rank
 * with no FFN columns, kv heads shared by two ranks) and 1 rank, and the f16 KV cache (llama.cpp's default)
 * against llama.cpp with an F16 KV cache.
 */
import { MOE_ARCHS, WEIGHT_TYPES } from '../../tools/modelgen/model-spec.js';
import { conformanceSuite, targetOf, type ConformanceCase } from '../helpers/engine-conformance.js';

const CASES: ConformanceCase[] = [
  ...MOE_ARCHS.flatMap((arch) => WEIGHT_TYPES.map((type): ConformanceCase => ({ label: `${arch} ${type}`, spec: { arch, weightType: type }, target: targetOf(type) }))),
  { label: 'llama dense F32', spec: { arch: 'llama', weightType: 'F32', n_expert: 0 }, target: 'F32' },
  { label: 'granitemoe dense Q8_0', spec: { arch: 'granitemoe', weightType: 'Q8_0', n_expert: 0 }, target: 'quantised' },
  { label: 'qwen3moe F32 300 tok', spec: { arch: 'qwen3moe', weightType: 'F32' }, target: 'F32', promptLength: 300 },
  { label: 'qwen3moe F32 300 tok, chunks of 64', spec: { arch: 'qwen3moe', weightType: 'F32' }, target: 'F32', promptLength: 300, opts: { maxBatch: 64 } },
  ...MOE_ARCHS.map((arch): ConformanceCase => ({ label: `${arch} Q4_0, 3 ranks`, spec: { arch, weightType: 'Q4_0' }, target: 'quantised', opts: { threads: 3 } })),
  { label: 'qwen2moe F32, 3 ranks', spec: { arch: 'qwen2moe', weightType: 'F32' }, target: 'F32', opts: { threads: 3 } },
  { label: 'grok F32, 1 rank', spec: { arch: 'grok', weightType: 'F32' }, target: 'F32', opts: { threads: 1 } },
  // f16 KV cache (llama.cpp's default) against llama.cpp with an F16 KV cache too
  { label: 'qwen3moe Q8_0, f16 KV cache', spec: { arch: 'qwen3moe', weightType: 'Q8_0' }, target: 'quantised', opts: { kvType: 'f16' } },
  { label: 'qwen3moe F32, f16 KV cache', spec: { arch: 'qwen3moe', weightType: 'F32' }, target: 'F16 KV', opts: { kvType: 'f16' } },
  { label: 'grok F32, f16 KV cache', spec: { arch: 'grok', weightType: 'F32' }, target: 'F16 KV', opts: { kvType: 'f16' } },
  { label: 'llama F32 300 tok, f16 KV cache', spec: { arch: 'llama', weightType: 'F32' }, target: 'F16 KV', promptLength: 300, opts: { kvType: 'f16' } },
];

conformanceSuite('CPU backend vs llama.cpp', CASES, { backend: 'cpu', threads: 2 });
