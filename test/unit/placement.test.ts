/**
 * The placement planner (daemon/model/placement.ts) on a model's real weight handles with the GPU
 * backend's sizes (gpu/gpu-placement.ts): slots dealt to layers in turn; a budget below the fixed part is
 * refused naming the minimum, the minimum itself is accepted (no expert on the GPU); no limit places every
 * expert; the host cache splits host and disk; the GPU side never exceeds the budget. Also the budget's
 * sources (gpu/gpu-budget.ts): explicit, MOECODE_GPU_BUDGET, the adapter's default.
 */
import assert from 'node:assert/strict';
import { totalmem } from 'node:os';
import { test } from 'node:test';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { defaultGpuBudget, resolveGpuBudget, resolveHostCacheBytes } from '../../daemon/gpu/gpu-budget.js';
import { planAdapterPlacement, planGpuPlacement, type GpuPlacementOptions } from '../../daemon/gpu/gpu-placement.js';
import { ByteSizeError } from '../../daemon/model/byte-size.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { modelWeights } from '../../daemon/model/model-weights.js';
import { formatPlacement, GpuBudgetTooSmallError, type Placement } from '../../daemon/model/placement.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

async function planner() {
  const file = await openGguf(await ensureModel({ arch: 'qwen2moe', weightType: 'Q8_0', n_layer: 3 }));
  const cfg = readModelConfig(file);
  const weights = modelWeights(file, cfg);
  const base: GpuPlacementOptions = { maxTokens: 64, nCtx: 128, nSlots: 1, maxLogitRows: 1, maxBindingBytes: 1 << 30, budgetBytes: null, hostCacheBytes: null };
  return { file, plan: (o: Partial<GpuPlacementOptions>) => planGpuPlacement(file, cfg, weights, { ...base, ...o }) };
}

test('placement: slots in turn per layer, refusal below the minimum, every expert without a limit', async () => {
  const { file, plan } = await planner();
  try {
    const all = plan({});
    assert.ok(all.allResident);
    assert.deepEqual(all.slots, [8, 8, 8]);
    assert.equal(all.experts.total, 24);
    const slot = all.slotBytes[0]!;
    assert.ok(slot > 0 && all.slotBytes.every((b) => b === slot));
    assert.ok(all.byClass['shared experts']!.gpu > 0, 'the shared expert is on the GPU');
    assert.equal(all.byClass['experts']!.host, 0);

    const min = all.minimumBytes;
    const none = plan({ budgetBytes: min });
    assert.deepEqual(none.slots, [0, 0, 0], 'the minimum holds no expert, and is accepted');
    assert.equal(none.byClass['experts']!.gpu, 0);
    assert.ok(none.byClass['experts']!.host > 0 && none.byClass['experts']!.host <= all.byClass['experts']!.gpu, 'host holds the file bytes of every expert');
    assert.throws(
      () => plan({ budgetBytes: min - 1 }),
      (e: unknown) => e instanceof GpuBudgetTooSmallError && e.minimumBytes === min && e.message.includes(String(min)),
    );

    const four = plan({ budgetBytes: min + 4 * slot + slot / 2 });
    assert.deepEqual(four.slots, [2, 1, 1], 'one more slot to each layer in turn');
    assert.equal(four.experts.gpu, 4);
    assert.ok(four.gpuBytes <= min + 4 * slot + slot / 2);
    assert.ok(!four.allResident);

    const quarter = plan({ budgetBytes: min + 6 * slot });
    assert.deepEqual(quarter.slots, [2, 2, 2]);
    assert.notEqual(formatPlacement(quarter), formatPlacement(four), 'budgets show different placements');
    assert.match(formatPlacement(quarter), /experts on the GPU: 6 of 24 \(25%\), 2 slots per layer/);

    // a host cache smaller than the host experts: the rest is read from disk when needed
    const disk = plan({ budgetBytes: min, hostCacheBytes: 5000 });
    assert.equal(disk.byClass['experts']!.host, 5000);
    assert.equal(disk.byClass['experts']!.host + disk.byClass['experts']!.disk, none.byClass['experts']!.host);
    assert.match(formatPlacement(disk), /disk/);
  } finally {
    await file.close();
  }
});

test('placement: budgets between slots never exceed the budget on the GPU', async () => {
  const { file, plan } = await planner();
  try {
    const { minimumBytes: min, slotBytes } = plan({});
    let last: Placement | undefined;
    for (let extra = 0; extra <= 26 * slotBytes[0]!; extra += Math.floor(slotBytes[0]! / 3)) {
      const p = plan({ budgetBytes: min + extra });
      assert.ok(p.gpuBytes <= min + extra);
      assert.ok(Math.max(...p.slots) - Math.min(...p.slots) <= 1, 'layers differ by one slot at most');
      if (last) assert.ok(p.experts.gpu >= last.experts.gpu, 'a larger budget never places fewer experts');
      last = p;
    }
    assert.ok(last!.allResident);
  } finally {
    await file.close();
  }
});

test('GPU budget sources: explicit, MOECODE_GPU_BUDGET, then the adapter (software: RAM less a reserve; hardware: no limit)', () => {
  const soft = { isFallback: true };
  const hard = { isFallback: false };
  assert.equal(resolveGpuBudget(1000, soft, { MOECODE_GPU_BUDGET: '5GiB' }), 1000);
  assert.equal(resolveGpuBudget(undefined, hard, { MOECODE_GPU_BUDGET: '512MiB' }), 512 * 1024 ** 2);
  assert.equal(resolveGpuBudget(0, hard, {}), null);
  assert.equal(defaultGpuBudget(hard, 64 * 1024 ** 3), null);
  assert.equal(defaultGpuBudget(soft, 24 * 1024 ** 3), 18 * 1024 ** 3);
  assert.equal(defaultGpuBudget(soft, 4 * 1024 ** 3), 2 * 1024 ** 3);
  assert.throws(() => resolveGpuBudget(undefined, hard, { MOECODE_GPU_BUDGET: 'lots' }), ByteSizeError);
  assert.equal(resolveHostCacheBytes(undefined, { MOECODE_HOST_CACHE: '1GiB' }), 1024 ** 3);
  assert.equal(resolveHostCacheBytes(undefined, {}, 8 * 1024 ** 3), 4 * 1024 ** 3);
  // a software adapter's GPU part is host memory: the default host cache takes only what it leaves (RAM less
  // the reserve of max(2 GiB, RAM/4)), so the two defaults together stay within RAM
  const G = 1024 ** 3;
  assert.equal(resolveHostCacheBytes(undefined, {}, 24 * G, 4 * G), 12 * G, 'room to spare: still half of RAM');
  assert.equal(resolveHostCacheBytes(undefined, {}, 24 * G, 16 * G), 2 * G);
  assert.equal(resolveHostCacheBytes(undefined, {}, 24 * G, 20 * G), 0);
  const soft24 = defaultGpuBudget(soft, 24 * G)!;
  assert.ok(soft24 + resolveHostCacheBytes(undefined, {}, 24 * G, soft24) <= 24 * G - 6 * G, 'budget + cache leave the reserve');
  assert.equal(resolveHostCacheBytes(3 * G, {}, 24 * G, 20 * G), 3 * G, 'an explicit size is kept');
  assert.equal(resolveHostCacheBytes(undefined, { MOECODE_HOST_CACHE: '5GiB' }, 24 * G, 20 * G), 5 * G, 'so is the environment\'s');
  assert.throws(() => resolveHostCacheBytes(undefined, { MOECODE_HOST_CACHE: '12 bananas' }), (e: unknown) => e instanceof ByteSizeError && /MOECODE_HOST_CACHE/.test(e.message));
});

test('planAdapterPlacement: an explicit host cache is kept; on a software adapter the default leaves RAM for the GPU part', async () => {
  const file = await openGguf(await ensureModel({ arch: 'qwen2moe', weightType: 'Q8_0', n_layer: 3 }));
  try {
    const cfg = readModelConfig(file);
    const weights = modelWeights(file, cfg);
    const o = { maxTokens: 64, nCtx: 128, nSlots: 1, maxLogitRows: 1, maxBindingBytes: 1 << 30, budgetBytes: null, expertShare: 0 };
    const saved = process.env.MOECODE_HOST_CACHE;
    delete process.env.MOECODE_HOST_CACHE;
    try {
      for (const isFallback of [false, true]) {
        const explicit = planAdapterPlacement(file, cfg, weights, { ...o, hostCacheBytes: 4096, isFallback });
        assert.equal(explicit.hostCacheBytes, 4096, `explicit size (software adapter: ${isFallback})`);
        const p = planAdapterPlacement(file, cfg, weights, { ...o, hostCacheBytes: undefined, isFallback });
        const soft = resolveHostCacheBytes(undefined, {}, totalmem(), isFallback ? p.gpuBytes : 0);
        assert.equal(p.hostCacheBytes, Math.min(soft, p.hostCacheBytes + p.byClass['experts']!.disk), `default (software adapter: ${isFallback})`);
      }
    } finally {
      if (saved !== undefined) process.env.MOECODE_HOST_CACHE = saved;
    }
  } finally {
    await file.close();
  }
});
