/**
 * The GPU expert cache's decisions (daemon/model/expert-cache-policy.ts): hits, the CPU for a few tokens,
 * uploads for a batch, migrations by score (recency and frequency) with a limit per step, victims never
 * routed in the same step, prefetch only over colder experts, an emptied slot after a failed upload, and
 * the slot table staying a bijection through a long random run.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_CACHE_POLICY, LayerExpertCache, type CachePolicyOptions } from '../../daemon/model/expert-cache-policy.js';

const opts = (o: Partial<CachePolicyOptions> = {}): CachePolicyOptions => ({ ...DEFAULT_CACHE_POLICY, ...o });

/** Tokens per expert from (expert, count) pairs. */
function tokens(n: number, ...pairs: [number, number][]): Int32Array {
  const t = new Int32Array(n);
  for (const [e, c] of pairs) t[e] = c;
  return t;
}

test('hits for residents, the CPU for a cold expert with few tokens', () => {
  const c = new LayerExpertCache(8, 2, opts({ maxMigrationsPerStep: 0 }));
  assert.equal(c.slotOf(0), 0);
  assert.equal(c.slotOf(1), 1);
  const p = c.planStep(tokens(8, [0, 1], [5, 1]));
  assert.deepEqual(p.resident, [0]);
  assert.deepEqual(p.cpu, [5]);
  assert.deepEqual(p.uploads, []);
  assert.equal(p.slotOf[0], 0);
  assert.equal(p.slotOf[5], -1);
  assert.equal(p.slotOf[1], -1, 'experts the step does not use have no slot in the plan');
});

test('a batch of uploadMinTokens tokens uploads the expert into the coldest slot the step does not use', () => {
  const c = new LayerExpertCache(8, 3, opts({ uploadMinTokens: 4, maxMigrationsPerStep: 0 }));
  c.planStep(tokens(8, [0, 1], [1, 1])); // 0 and 1 warm, 2 cold
  const p = c.planStep(tokens(8, [6, 4], [0, 1]));
  assert.deepEqual(p.uploads, [{ expert: 6, slot: 2, evicted: 2, reason: 'batch' }]);
  assert.equal(c.slotOf(6), 2);
  assert.equal(c.slotOf(2), -1);
  assert.deepEqual(p.resident, [0]);
  // three tokens: below the threshold, stays on the CPU
  const q = c.planStep(tokens(8, [7, 3]));
  assert.deepEqual(q.cpu, [7]);
});

test('no victim among the experts the step routes to: the extra experts go to the CPU', () => {
  const c = new LayerExpertCache(4, 2, opts({ uploadMinTokens: 1 }));
  const p = c.planStep(tokens(4, [0, 5], [1, 5], [2, 5], [3, 5]));
  assert.deepEqual(p.resident.sort(), [0, 1]);
  assert.deepEqual(p.cpu.sort(), [2, 3]);
  assert.deepEqual(p.uploads, []);
});

test('a hot expert migrates over a cold one (score factor), at most maxMigrationsPerStep per step', () => {
  const c = new LayerExpertCache(8, 2, opts({ migrateFactor: 2, maxMigrationsPerStep: 1, halfLife: 4 }));
  // experts 0 and 1 (resident) never routed; 4 and 5 routed every step
  const first = c.planStep(tokens(8, [4, 1], [5, 1]));
  assert.equal(first.uploads.length, 1, 'one migration per step');
  assert.equal(first.uploads[0]!.reason, 'migrate');
  assert.equal(first.cpu.length, 1);
  const second = c.planStep(tokens(8, [4, 1], [5, 1]));
  assert.equal(second.uploads.length, 1);
  assert.equal(second.resident.length, 1);
  const third = c.planStep(tokens(8, [4, 1], [5, 1]));
  assert.deepEqual(third.resident.sort(), [4, 5]);
  assert.deepEqual(third.uploads, []);
  // an expert routed once does not displace experts routed every step (factor 2)
  const fourth = c.planStep(tokens(8, [7, 1]));
  assert.deepEqual(fourth.cpu, [7]);
  assert.deepEqual(fourth.uploads, []);
});

test('scores fade: an expert unused for many half-lives loses its slot to one in use', () => {
  const c = new LayerExpertCache(4, 1, opts({ halfLife: 2, maxMigrationsPerStep: 1 }), [0]);
  for (let i = 0; i < 6; i++) c.planStep(tokens(4, [0, 1])); // 0 hot
  assert.ok(c.scoreOf(0) > 1);
  for (let i = 0; i < 10; i++) c.planStep(tokens(4, [3, 0])); // nothing routed: 0 fades
  const p = c.planStep(tokens(4, [2, 1]));
  assert.deepEqual(p.uploads.map((u) => [u.expert, u.evicted]), [[2, 0]]);
});

test('prefetch uploads a predicted expert over a colder unpredicted one; never over a predicted or hotter one', () => {
  const c = new LayerExpertCache(8, 2, opts({ migrateFactor: 2, maxMigrationsPerStep: 0, maxPrefetchPerStep: 1 }));
  for (let i = 0; i < 4; i++) c.planStep(tokens(8, [0, 1])); // 0 hot, 1 never used
  const up = c.planPrefetch(tokens(8, [6, 1], [0, 1]), 0.9);
  assert.deepEqual(up, [{ expert: 6, slot: 1, evicted: 1, reason: 'prefetch' }]);
  assert.equal(c.slotOf(6), 1);
  // a predicted expert with no score does not displace the hot expert 0
  assert.deepEqual(c.planPrefetch(tokens(8, [3, 1], [6, 1]), 0.9), []);
  const off = new LayerExpertCache(8, 2, opts({ prefetch: false }));
  assert.deepEqual(off.planPrefetch(tokens(8, [6, 1]), 1), []);
});

test('a failed upload empties its slot', () => {
  const c = new LayerExpertCache(4, 2, opts({ uploadMinTokens: 1 }));
  const p = c.planStep(tokens(4, [3, 2]));
  const s = p.uploads[0]!.slot;
  c.emptySlot(s);
  assert.equal(c.slotOf(3), -1);
  assert.equal(c.expertIn(s), -1);
  const q = c.planStep(tokens(4, [2, 1]));
  assert.deepEqual(q.uploads.map((u) => [u.expert, u.slot, u.evicted]), [[2, s, -1]], 'an empty slot is the first victim');
});

test('a long random run keeps slots and experts one-to-one, and plans place every routed expert once', () => {
  let seed = 12345;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const c = new LayerExpertCache(16, 5, opts({ uploadMinTokens: 6, maxMigrationsPerStep: 2, maxPrefetchPerStep: 2, halfLife: 8 }));
  for (let step = 0; step < 500; step++) {
    const t = new Int32Array(16);
    const n = 1 + Math.floor(rnd() * 10);
    for (let i = 0; i < n * 2; i++) t[Math.floor(rnd() ** 2 * 16)]!++;
    if (step % 3 === 0) c.planPrefetch(t, rnd());
    const plan = c.planStep(t);
    const routed = [...t.keys()].filter((e) => t[e]! > 0);
    const placed = [...plan.resident, ...plan.cpu, ...plan.uploads.map((u) => u.expert)].sort((a, b) => a - b);
    assert.deepEqual(placed, routed);
    for (const u of plan.uploads) assert.ok(t[u.evicted] === undefined || u.evicted < 0 || t[u.evicted] === 0, 'never evicts an expert the step routes to');
    const seen = new Set<number>();
    for (let s = 0; s < 5; s++) {
      const e = c.expertIn(s);
      if (e < 0) continue;
      assert.equal(c.slotOf(e), s);
      assert.ok(!seen.has(e));
      seen.add(e);
    }
    for (let e = 0; e < 16; e++) if (c.slotOf(e) >= 0) assert.equal(c.expertIn(c.slotOf(e)), e);
  }
});
