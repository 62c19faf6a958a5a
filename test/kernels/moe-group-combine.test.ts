/**
 * shaders/moe_group.wgsl vs daemon/gpu/cpu-reference/moe-group.ts (exact: counts, slot lists in slot
 * order, indirect dispatch arguments; ids >= n_expert, the expert executor's NO_SLOT, in no group) and shaders/moe_combine.wgsl vs cpu-reference/moe-combine.ts
 * (|err| <= 1e-6 · (Σ_j |w_j · e_j| + |shared term|) + 1e-30: k + 1 f32 products and sums).
 */
import assert from 'node:assert/strict';
import { moeCombineRef } from '../../daemon/gpu/cpu-reference/moe-combine.js';
import { moeGroupRef } from '../../daemon/gpu/cpu-reference/moe-group.js';
import { grid, kernelTest } from '../helpers/gpu-harness.js';
import { assertClose, assertSameInts, randn, randu, seeded } from './kernel-test-utils.js';

/** n_tokens × k distinct experts per token, drawn from the first `used` experts. */
function routing(n_tokens: number, k: number, used: number, rnd: () => number): Uint32Array {
  const ids = new Uint32Array(n_tokens * k);
  for (let t = 0; t < n_tokens; t++) {
    const pool = Array.from({ length: used }, (_, e) => e);
    for (let j = 0; j < k; j++) ids[t * k + j] = pool.splice(Math.floor(rnd() * pool.length), 1)[0]!;
  }
  return ids;
}

kernelTest('moe_group: per-expert counts, slot lists in slot order, indirect args (zero for unused experts); stale counts reset', async (h) => {
  const rnd = seeded(131);
  const cases = [
    { n_tokens: 1, n_expert: 4, k: 1, used: 4 },
    { n_tokens: 3, n_expert: 8, k: 2, used: 5 },
    { n_tokens: 5, n_expert: 60, k: 4, used: 60 },
    { n_tokens: 17, n_expert: 64, k: 8, used: 40 },
    { n_tokens: 70, n_expert: 128, k: 8, used: 128 },
    { n_tokens: 512, n_expert: 256, k: 8, used: 200 },
  ];
  for (const c of cases) {
    const list_stride = c.n_tokens + 5; // maxTokens
    const [gx0, gx1] = [3, 7];
    const ids = routing(c.n_tokens, c.k, c.used, rnd);
    const idsBuf = new Uint32Array((c.n_tokens + 1) * c.k).fill(0); // a token past the step routes to expert 0: must be ignored
    idsBuf.set(ids);
    const listsInit = new Uint32Array(c.n_expert * list_stride).fill(0xdead);
    const out = await h.run({
      kernel: 'moe_group',
      step: { n_tokens: c.n_tokens },
      params: [c.n_expert, c.k, list_stride, gx0, gx1],
      bindings: { 2: idsBuf, 3: new Uint32Array(c.n_expert).fill(77), 4: listsInit, 5: new Uint32Array(c.n_expert * 6).fill(5) },
      dispatch: [1, 1, 1],
      read: [3, 4, 5],
    });
    const ref = moeGroupRef(ids, c.n_tokens, c.k, c.n_expert, list_stride, gx0, gx1, listsInit);
    const what = JSON.stringify(c);
    assertSameInts(new Uint32Array(out[3]!), ref.counts, `${what}: counts`);
    assertSameInts(new Uint32Array(out[4]!), ref.lists, `${what}: lists`);
    assertSameInts(new Uint32Array(out[5]!), ref.args, `${what}: args`);
    assert.equal(ref.counts.reduce((a, b) => a + b, 0), c.n_tokens * c.k);
  }
});

kernelTest('moe_group by GPU slot: NO_SLOT (CPU) choices and ids past the slot count are in no list; a step with every choice on the CPU dispatches nothing', async (h) => {
  const rnd = seeded(133);
  const NO_SLOT = 0xffffffff;
  const cases = [
    { n_tokens: 1, n_slots: 2, k: 2, n_ids: 8, cpuShare: 0.5 },
    { n_tokens: 9, n_slots: 3, k: 2, n_ids: 8, cpuShare: 0.3 },
    { n_tokens: 33, n_slots: 1, k: 4, n_ids: 4, cpuShare: 0.9 },
    { n_tokens: 5, n_slots: 6, k: 8, n_ids: 6, cpuShare: 1 },
  ];
  for (const c of cases) {
    const list_stride = c.n_tokens + 2;
    // ids as the executor writes them: a slot below n_slots, or NO_SLOT; plus stale slot numbers >= n_slots
    const ids = new Uint32Array(c.n_tokens * c.k);
    for (let i = 0; i < ids.length; i++) ids[i] = rnd() < c.cpuShare ? (rnd() < 0.5 ? NO_SLOT : c.n_slots + Math.floor(rnd() * 3)) : Math.floor(rnd() * c.n_slots);
    const listsInit = new Uint32Array(c.n_slots * list_stride).fill(0xbeef);
    const out = await h.run({
      kernel: 'moe_group',
      step: { n_tokens: c.n_tokens },
      params: [c.n_slots, c.k, list_stride, 2, 5],
      bindings: { 2: ids, 3: new Uint32Array(c.n_slots).fill(9), 4: listsInit, 5: new Uint32Array(c.n_slots * 6).fill(7) },
      dispatch: [1, 1, 1],
      read: [3, 4, 5],
    });
    const ref = moeGroupRef(ids, c.n_tokens, c.k, c.n_slots, list_stride, 2, 5, listsInit);
    const what = JSON.stringify(c);
    assertSameInts(new Uint32Array(out[3]!), ref.counts, `${what}: counts`);
    assertSameInts(new Uint32Array(out[4]!), ref.lists, `${what}: lists`);
    assertSameInts(new Uint32Array(out[5]!), ref.args, `${what}: args`);
    const onGpu = Array.from(ids).filter((e) => e < c.n_slots).length;
    assert.equal(ref.counts.reduce((a, b) => a + b, 0), onGpu, `${what}: every GPU choice in exactly one list`);
  }
});

kernelTest('moe_combine: Σ weights · expert outputs, n 37..4096, k 1..8, n_tokens 1..1025, folded grid', async (h) => {
  const rnd = seeded(132);
  const cases = [
    { n_tokens: 1, n: 64, k: 1 },
    { n_tokens: 3, n: 37, k: 2 },
    { n_tokens: 5, n: 4096, k: 8 },
    { n_tokens: 17, n: 96, k: 4 },
    { n_tokens: 70, n: 64, k: 6 },
    { n_tokens: 1025, n: 4096, k: 1 }, // 4.2M outputs: more than 65535 workgroups
  ];
  for (const c of cases) {
    const expertOut = randn((c.n_tokens + 1) * c.k * c.n, rnd);
    const weights = randu((c.n_tokens + 1) * c.k, rnd, 0, 1);
    const yInit = new Float32Array((c.n_tokens + 1) * c.n).fill(-9);
    const out = await h.run({
      kernel: 'moe_combine',
      step: { n_tokens: c.n_tokens },
      params: [c.n, c.k],
      bindings: { 2: expertOut, 3: weights, 4: yInit },
      dispatch: grid((c.n_tokens + 1) * c.n), // one row more than the step: the kernel's bound must stop it
      read: [4],
    });
    const y = new Float32Array(out[4]!);
    const count = c.n_tokens * c.n;
    const ref = moeCombineRef(expertOut, weights, c.n_tokens, c.n, c.k);
    const mag = moeCombineRef(expertOut.map(Math.abs), weights, c.n_tokens, c.n, c.k);
    const what = JSON.stringify(c);
    assertClose(y.subarray(0, count), ref, { rtol: 1e-6, atol: 1e-30, scale: mag, what });
    assert.ok(y.subarray(count).every((v) => v === -9), `${what}: row past the step written`);
  }
  assert.ok(grid(1025 * 4096)[1] > 1);
});
