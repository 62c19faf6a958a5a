/**
 * What the WebGPU backend allocates stays within the GPU budget the placement planned for: the estimate of
 * the graph's KV cache and activations (gpu/graph-size.ts) is exact for the KV cache and an upper bound of
 * the activations (within 2× + 1 MiB), for several architectures, batch sizes and logits modes; under
 * budgets from the minimum to all experts, the GPU bytes allocated (weights, slots, graph) never exceed the
 * budget; a budget below the minimum is refused before loading (GpuBudgetTooSmallError naming it).
 * Skips when no WebGPU adapter is available.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Model } from '../../daemon/engine/model.js';
import { GpuUnavailableError } from '../../daemon/gpu/device.js';
import { estimateGraphSize } from '../../daemon/gpu/graph-size.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { modelWeights } from '../../daemon/model/model-weights.js';
import { GpuBudgetTooSmallError } from '../../daemon/model/placement.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';

let noGpu: string | undefined;

async function load(path: string, o: Parameters<typeof Model.load>[1]): Promise<Model | undefined> {
  try {
    return await Model.load(path, { backend: 'gpu', ...o });
  } catch (e) {
    if (e instanceof GpuUnavailableError) {
      noGpu = `no WebGPU adapter: ${e.message}`;
      return undefined;
    }
    throw e;
  }
}

const CASES: { spec: ModelSpecInput; maxBatch: number; nCtx: number; allLogits: boolean }[] = [
  { spec: { arch: 'qwen2moe', weightType: 'Q8_0' }, maxBatch: 64, nCtx: 128, allLogits: false },
  { spec: { arch: 'grok', weightType: 'F32' }, maxBatch: 16, nCtx: 64, allLogits: true },
  { spec: { arch: 'qwen3moe', weightType: 'Q4_0' }, maxBatch: 128, nCtx: 256, allLogits: true },
  { spec: { arch: 'llama', weightType: 'F16', n_expert: 0 }, maxBatch: 32, nCtx: 64, allLogits: false },
];

test('the graph size estimate: exact KV cache, an upper bound of the activations', async (t) => {
  for (const c of CASES) {
    if (noGpu) return t.skip(noGpu);
    const path = await ensureModel(c.spec);
    const m = await load(path, { maxBatch: c.maxBatch, nCtx: c.nCtx, allLogits: c.allLogits });
    if (!m) return t.skip(noGpu);
    try {
      const file = await openGguf(path);
      const cfg = readModelConfig(file);
      const est = estimateGraphSize(cfg, modelWeights(file, cfg), { maxTokens: c.maxBatch, nCtx: c.nCtx, nSlots: 1, maxLogitRows: c.allLogits ? c.maxBatch : 1 });
      await file.close();
      const what = JSON.stringify(c.spec);
      assert.equal(est.kvCache, m.memory.kvCache, `${what}: KV cache`);
      assert.ok(est.activations >= m.memory.activations, `${what}: estimate ${est.activations} < allocated ${m.memory.activations}`);
      assert.ok(est.activations <= 2 * m.memory.activations + (1 << 20), `${what}: estimate ${est.activations} far above ${m.memory.activations}`);
    } finally {
      await m.dispose();
    }
  }
});

test('GPU bytes stay within the budget from the minimum to every expert; below the minimum: refused', async (t) => {
  if (noGpu) return t.skip(noGpu);
  const path = await ensureModel({ arch: 'qwen2moe', weightType: 'Q4_0' });
  const opts = { maxBatch: 32, nCtx: 64 };
  let minimum = 0;
  for (const share of [0, 0.1, 0.25, 0.5, 0.9, 1]) {
    const m = await load(path, { ...opts, expertShare: share });
    if (!m) return t.skip(noGpu);
    try {
      const p = m.memory.placement!;
      minimum = p.minimumBytes;
      assert.ok(m.memory.total <= p.budgetBytes!, `share ${share}: ${m.memory.total} bytes allocated over a budget of ${p.budgetBytes}`);
      assert.equal(p.allResident, share === 1);
      assert.equal(Boolean(m.offload), share < 1, 'the expert executor runs exactly when some experts are on the host');
    } finally {
      await m.dispose();
    }
  }
  await assert.rejects(load(path, { ...opts, gpuBudgetBytes: minimum - 1 }), (e: unknown) => e instanceof GpuBudgetTooSmallError && e.minimumBytes === minimum);
});
