/**
 * Expert cache fills (WeightStore.fill, as the expert executor uses it under offload) reuse their host staging:
 * after the first round of fills, more rounds allocate nothing, also with two fills at once. What a fill writes
 * is checked end to end by the offload conformance tests (same tokens and log-probs under any GPU budget).
 */
import assert from 'node:assert/strict';
import { WeightStore } from '../../daemon/gpu/weight-store.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { modelWeights } from '../../daemon/model/model-weights.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { kernelTest } from '../helpers/gpu-harness.js';

kernelTest('expert cache fills reuse their staging: rounds after the first allocate nothing', async (h) => {
  const file = await openGguf(await ensureModel({ arch: 'qwen3moe', weightType: 'Q4_K', preset: 'tiny256' }));
  const store = new WeightStore(h.device, file, 1 << 30);
  try {
    const cfg = readModelConfig(file);
    const ex = modelWeights(file, cfg).layers[0]!.experts!;
    const slots = [0, 1].map((s) => ({ gate: store.allocate(ex.gate[0]!, `slot${s}.gate`), up: store.allocate(ex.up[0]!, `slot${s}.up`), down: store.allocate(ex.down[0]!, `slot${s}.down`) }));
    const fill = async (slot: (typeof slots)[number], e: number) => {
      await store.fill(ex.gate[e]!, slot.gate);
      await store.fill(ex.up[e]!, slot.up);
      await store.fill(ex.down[e]!, slot.down);
    };
    const round = async () => {
      for (let e = 0; e < cfg.n_expert; e += 2) await Promise.all([fill(slots[0]!, e), fill(slots[1]!, e + 1)]);
    };
    await round();
    const first = store.staging.allocations;
    assert.ok(first > 0);
    const uploaded = store.bytesUploaded;
    await round();
    await round();
    assert.equal(store.staging.allocations, first, 'no staging allocated after the first round');
    assert.equal(store.bytesUploaded, 3 * uploaded, 'every fill uploaded its expert');
    await h.device.queue.onSubmittedWorkDone();
  } finally {
    store.destroy();
    await file.close();
  }
});
