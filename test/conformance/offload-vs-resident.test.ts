/**
 * Experts placed across GPU and host give the same model: the WebGPU backend under small GPU budgets
 * (expert executor: host experts on the CPU expert service, uploads into slots, prefetch) against the same
 * backend with every expert resident, on generated tiny models of every MoE architecture (qwen2moe: a
 * gated shared expert; grok: GELU experts and sandwich norms), in every weight type. Budgets: no expert on
 * the GPU, 3 slots for the model (fewer than one layer's 8 experts), a quarter of the experts; policies
 * that force uploads of batches and prefetches; prompt chunks of 8 tokens; a host cache of one expert.
 *
 * Targets (both sides are this engine; the GPU's and the CPU's kernels emulate ggml's rounding, but add in
 * different orders): max |Δ log p| ≤ 2e-3 at every prompt position (F16 weights: ≤ 5e-2 and mean KL ≤ 1e-4,
 * the F16 conformance target), and the same 32 greedy tokens. The counters show which paths ran.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { evalModel, type EvalOptions, type EvalResult } from '../../daemon/cli/eval.js';
import type { OffloadReport } from '../../daemon/model/offload-stats.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';
import { compareRuns, fmtE, formatTable } from '../helpers/logprob-compare.js';
import { randomPrompts } from '../helpers/prompts.js';

const N_GREEDY = 32;

interface Case {
  label: string;
  spec: ModelSpecInput;
  opts: EvalOptions;
  /** What the counters must show (the paths the case is meant to take). */
  expect?: (r: OffloadReport) => void;
}

const cpuRan = (r: OffloadReport) => assert.ok(r.cpu > 0, 'some experts ran on the CPU');
const none = (r: OffloadReport) => {
  assert.equal(r.expertsOnGpu, 0);
  assert.equal(r.hits, 0);
  cpuRan(r);
};

const CASES: Case[] = [
  { label: 'grok F32, no expert on the GPU', spec: { arch: 'grok', weightType: 'F32' }, opts: { expertShare: 0 }, expect: none },
  { label: 'qwen2moe F16, no expert on the GPU', spec: { arch: 'qwen2moe', weightType: 'F16' }, opts: { expertShare: 0 }, expect: none },
  { label: 'qwen3moe Q8_0, 3 slots (< one layer)', spec: { arch: 'qwen3moe', weightType: 'Q8_0' }, opts: { expertShare: 3 / 16 }, expect: (r) => (assert.equal(r.expertsOnGpu, 3), cpuRan(r)) },
  { label: 'llama Q4_0, 25%', spec: { arch: 'llama', weightType: 'Q4_0' }, opts: { expertShare: 0.25 }, expect: (r) => (assert.equal(r.expertsOnGpu, 4), cpuRan(r)) },
  { label: 'olmoe F32, 25%', spec: { arch: 'olmoe', weightType: 'F32' }, opts: { expertShare: 0.25 }, expect: cpuRan },
  { label: 'granitemoe Q8_0, 3 slots', spec: { arch: 'granitemoe', weightType: 'Q8_0' }, opts: { expertShare: 3 / 16 }, expect: cpuRan },
  {
    label: 'qwen2moe Q4_0, 25%, batch uploads and prefetch',
    spec: { arch: 'qwen2moe', weightType: 'Q4_0' },
    opts: { expertShare: 0.25, expertPolicy: { uploadMinTokens: 2, maxPrefetchPerStep: 2, migrateFactor: 1 } },
    expect: (r) => {
      assert.ok(r.uploads > 0 && r.uploadedBytes > 0, 'experts were uploaded');
      assert.ok(r.uploaded > 0, 'some routed experts ran right after their upload');
      assert.ok(r.predicted > 0, 'the next layer was predicted');
    },
  },
  {
    label: 'grok Q8_0, 3 slots, chunks of 8, host cache of one expert',
    spec: { arch: 'grok', weightType: 'Q8_0' },
    opts: { expertShare: 3 / 16, maxBatch: 8, hostCacheBytes: 1, expertPolicy: { uploadMinTokens: 4 } },
    expect: (r) => {
      cpuRan(r);
      assert.ok(r.hostLoads > 13, `experts read again from the file (${r.hostLoads} loads)`);
    },
  },
];

const gpuUnavailable = (e: unknown) => e instanceof Error && (e.name === 'GpuUnavailableError' || /no (webgpu )?adapter/i.test(e.message));

describe('WebGPU backend: host experts vs every expert resident', () => {
  const rows: string[][] = [];
  const resident = new Map<string, Promise<EvalResult>>();
  let unavailable: string | undefined;
  test.after(() => {
    if (rows.length) console.log('\n' + formatTable(['case', 'max|Δ|', 'greedy', 'hit', 'cpu', 'uploads', 'prefetch'], rows));
  });
  for (const c of CASES) {
    test(c.label, async (t) => {
      if (unavailable) return t.skip(unavailable);
      const path = await ensureModel(c.spec);
      const [prompt] = randomPrompts(512, 1, 32, 4321);
      const key = `${path}|${c.opts.maxBatch ?? ''}`;
      let ref = resident.get(key);
      if (!ref) resident.set(key, (ref = evalModel(path, prompt!, N_GREEDY, { backend: 'gpu', maxBatch: c.opts.maxBatch })));
      let base: EvalResult;
      try {
        base = await ref;
      } catch (e) {
        if (!gpuUnavailable(e)) throw e;
        unavailable = `no WebGPU adapter: ${(e as Error).message}`;
        return t.skip(unavailable);
      }
      let report: OffloadReport | undefined;
      const ours = await evalModel(path, prompt!, N_GREEDY, { backend: 'gpu', ...c.opts, onOffloadReport: (r) => (report = r) });
      assert.ok(report, 'experts were placed off the GPU');
      const stats = compareRuns(base.logprobs, ours.logprobs);
      if (c.spec.weightType === 'F16') {
        assert.ok(stats.maxAbs <= 5e-2, `max |Δ log p| ${fmtE(stats.maxAbs)} > 5e-2`);
        assert.ok(stats.meanKl <= 1e-4, `mean KL ${fmtE(stats.meanKl)} > 1e-4`);
      } else {
        const worst = stats.positions.findIndex((p) => !(p.maxAbs <= 2e-3));
        assert.ok(worst < 0, `max |Δ log p| ${fmtE(stats.positions[worst]?.maxAbs ?? NaN)} > 2e-3 at position ${worst}`);
      }
      assert.deepEqual(ours.greedy, base.greedy, 'greedy tokens');
      c.expect?.(report);
      const pct = (a: number, b: number) => `${b ? ((100 * a) / b).toFixed(0) : '-'}%`;
      rows.push([c.label, fmtE(stats.maxAbs), 'same', pct(report.hits, report.choices), pct(report.cpu, report.choices), String(report.uploads), pct(report.predictedRight, report.predicted)]);
    });
  }
});
