/**
 * The WebGPU backend with experts placed across GPU and host (small forced GPU budgets: the expert
 * executor runs host experts on the CPU expert service, uploads others into slots) against llama.cpp, with
 * the targets of test/helpers/engine-conformance.ts: qwen2moe (gated shared expert on the GPU, every routed
 * expert on the host), grok (GELU, sandwich norms) with a quarter of its experts on the GPU, qwen3moe with
 * 3 slots (fewer than one layer's experts) and uploads of batches, llama F16 with half. Each case also
 * checks that host experts ran. Skips (with the reason) when no WebGPU adapter is available.
 */
import assert from 'node:assert/strict';
import type { EvalOptions } from '../../daemon/cli/eval.js';
import type { OffloadReport } from '../../daemon/model/offload-stats.js';
import { conformanceSuite, type ConformanceCase, type Target } from '../helpers/engine-conformance.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';

function offloadCase(label: string, spec: ModelSpecInput, target: Target, opts: EvalOptions, expect: (r: OffloadReport) => void): ConformanceCase {
  let last: OffloadReport | undefined;
  return {
    label,
    spec,
    target,
    opts: { ...opts, onOffloadReport: (r) => (last = r) },
    check: () => {
      assert.ok(last, 'experts were placed off the GPU');
      assert.ok(last.cpu > 0, 'host experts ran on the CPU');
      expect(last);
    },
  };
}

const CASES: ConformanceCase[] = [
  offloadCase('qwen2moe Q8_0, no routed expert on the GPU', { arch: 'qwen2moe', weightType: 'Q8_0' }, 'quantised', { expertShare: 0 }, (r) => assert.equal(r.hits, 0)),
  offloadCase('grok F32, 25% of experts on the GPU', { arch: 'grok', weightType: 'F32' }, 'F32', { expertShare: 0.25 }, (r) => assert.equal(r.expertsOnGpu, 4)),
  offloadCase('qwen3moe Q4_0, 3 slots, batch uploads', { arch: 'qwen3moe', weightType: 'Q4_0' }, 'quantised', { expertShare: 3 / 16, expertPolicy: { uploadMinTokens: 3 } }, (r) =>
    assert.ok(r.uploads > 0, 'experts were uploaded'),
  ),
  offloadCase('llama F16, 50% of experts on the GPU', { arch: 'llama', weightType: 'F16' }, 'F16', { expertShare: 0.5 }, (r) => assert.equal(r.expertsOnGpu, 8)),
];

const gpuUnavailable = (e: unknown) => e instanceof Error && (e.name === 'GpuUnavailableError' || /no (webgpu )?adapter|GpuUnavailable/i.test(e.message));

conformanceSuite('WebGPU backend with host experts vs llama.cpp', CASES, { backend: 'gpu' }, gpuUnavailable);
