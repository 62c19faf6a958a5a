/**
 * The WebGPU backend against llama.cpp (test/helpers/engine-conformance.ts): six architectures ×
 * F32/F16/Q8_0/Q4_0 (the tiny presets use grouped-query attention, n_head_kv < n_head, except olmoe
 * which forbids it), dense models, a 300-token prompt, runs with `maxBindingBytes` forced to 16 KiB so
 * that large tensors take the row-shard path, and the f16 KV cache against llama.cpp's F16 KV cache. Skips (with the reason) when no WebGPU adapter is available.
 */
import assert from 'node:assert/strict';
import { MOE_ARCHS, WEIGHT_TYPES } from '../../tools/modelgen/model-spec.js';
import { conformanceSuite, targetOf, type ConformanceCase } from '../helpers/engine-conformance.js';

const SHARD_BYTES = 16 * 1024;
const sharded = (r: { shardedMatrices: number }) => assert.ok(r.shardedMatrices > 0, `the ${SHARD_BYTES}-byte binding limit split no matrix into row shards`);

const CASES: ConformanceCase[] = [
  ...MOE_ARCHS.flatMap((arch) => WEIGHT_TYPES.map((type): ConformanceCase => ({ label: `${arch} ${type}`, spec: { arch, weightType: type }, target: targetOf(type) }))),
  { label: 'llama dense F32', spec: { arch: 'llama', weightType: 'F32', n_expert: 0 }, target: 'F32' },
  { label: 'granitemoe dense Q8_0', spec: { arch: 'granitemoe', weightType: 'Q8_0', n_expert: 0 }, target: 'quantised' },
  { label: 'qwen3moe F32 300 tok', spec: { arch: 'qwen3moe', weightType: 'F32' }, target: 'F32', promptLength: 300 },
  { label: 'llama F32 shards 16K', spec: { arch: 'llama', weightType: 'F32' }, target: 'F32', opts: { maxBindingBytes: SHARD_BYTES }, check: sharded },
  { label: 'qwen2moe Q4_0 shards 16K', spec: { arch: 'qwen2moe', weightType: 'Q4_0' }, target: 'quantised', opts: { maxBindingBytes: SHARD_BYTES }, check: sharded },
  // f16 KV cache (the engine's default) against llama.cpp with an F16 KV cache too
  { label: 'qwen3moe F32, f16 KV cache', spec: { arch: 'qwen3moe', weightType: 'F32' }, target: 'F16 KV', opts: { kvType: 'f16' } },
  { label: 'grok F32, f16 KV cache', spec: { arch: 'grok', weightType: 'F32' }, target: 'F16 KV', opts: { kvType: 'f16' } },
  { label: 'llama F32 300 tok, f16 KV cache', spec: { arch: 'llama', weightType: 'F32' }, target: 'F16 KV', promptLength: 300, opts: { kvType: 'f16' } },
  { label: 'qwen2moe Q8_0, f16 KV cache', spec: { arch: 'qwen2moe', weightType: 'Q8_0' }, target: 'quantised', opts: { kvType: 'f16' } },
];

const gpuUnavailable = (e: unknown) => e instanceof Error && (e.name === 'GpuUnavailableError' || /no (webgpu )?adapter|GpuUnavailable/i.test(e.message));

conformanceSuite('WebGPU backend vs llama.cpp', CASES, { backend: 'gpu' }, gpuUnavailable);
