/**
 * shaders/moe_topk.wgsl vs the routing step every backend shares (daemon/model/routing.ts routeTokens):
 * softmax or sigmoid gating, top-k experts (descending, ties to the lower index) and their weights,
 * renormalised or not, scaled. ids exact; weights |err| <= 2e-6 · weight + 1e-9 (f32 exp and a division or two).
 */
import assert from 'node:assert/strict';
import { routeTokens, type RoutingParams } from '../../daemon/model/routing.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { assertClose, assertSameInts, randn, seeded } from './kernel-test-utils.js';

function params(n_expert: number, k: number, norm: boolean, gating: RoutingParams['gating'] = 'softmax', scale = 1): RoutingParams {
  return { n_expert, n_expert_used: k, norm, gating, scale };
}

async function topk(h: GpuKernelHarness, logits: Float32Array, n_tokens: number, p: RoutingParams): Promise<{ ids: Uint32Array; weights: Float32Array }> {
  const k = p.n_expert_used;
  // One token row more than the step in every buffer: its outputs must keep the sentinel.
  const out = await h.run({
    kernel: 'moe_topk',
    step: { n_tokens },
    params: [p.n_expert, k, p.norm ? 1 : 0, p.gating === 'sigmoid' ? 1 : 0, { f32: p.scale }],
    bindings: { 2: logits, 3: new Uint32Array((n_tokens + 1) * k).fill(999), 4: new Float32Array((n_tokens + 1) * k).fill(-1) },
    dispatch: grid(n_tokens + 1),
    read: [3, 4],
  });
  return { ids: new Uint32Array(out[3]!), weights: new Float32Array(out[4]!) };
}

function check(got: { ids: Uint32Array; weights: Float32Array }, logits: Float32Array, n_tokens: number, p: RoutingParams, what: string): void {
  const ref = routeTokens(logits, n_tokens, p);
  const n = n_tokens * p.n_expert_used;
  assertSameInts(got.ids.subarray(0, n), ref.ids, `${what}: ids`);
  assertClose(got.weights.subarray(0, n), ref.weights, { rtol: 2e-6, atol: 1e-9, what: `${what}: weights` });
  assert.ok(got.ids.subarray(n).every((v) => v === 999) && got.weights.subarray(n).every((v) => v === -1), `${what}: token past the step written`);
}

kernelTest('moe_topk: n_expert 4..256, k 1..8, norm on/off, n_tokens 1..70', async (h) => {
  const rnd = seeded(121);
  const cases = [
    [1, 4, 1],
    [3, 8, 2],
    [5, 60, 4], // qwen2moe
    [17, 64, 8], // olmoe / qwen3moe
    [70, 128, 8],
    [5, 256, 8],
    [3, 8, 8], // k = n_expert
  ] as const;
  for (const [n_tokens, n_expert, k] of cases) {
    for (const norm of [true, false]) {
      const logits = randn((n_tokens + 1) * n_expert, rnd, 2);
      const p = params(n_expert, k, norm);
      check(await topk(h, logits, n_tokens, p), logits, n_tokens, p, JSON.stringify({ n_tokens, n_expert, k, norm }));
    }
  }
});

kernelTest('moe_topk: equal router logits go to the lower expert index', async (h) => {
  const n_expert = 8;
  const k = 3;
  const rows = [
    [1, 1, 1, 1, 1, 1, 1, 1], // all tied: experts 0, 1, 2
    [0, 2, 0, 2, 0, 2, 0, 2], // ties at the top: 1, 3, 5
    [5, 0, 0, 4, 4, 0, 4, 0], // then three tied for two places: 0, 3, 4
    [-3, -1, -2, -1, -7, -1, -1, -9], // negative logits, four tied: 1, 3, 5
  ];
  const logits = Float32Array.from([...rows.flat(), ...new Array(n_expert).fill(0)]);
  for (const norm of [true, false]) {
    const p = params(n_expert, k, norm);
    const got = await topk(h, logits, rows.length, p);
    check(got, logits, rows.length, p, `ties, norm ${norm}`);
    assert.deepEqual(Array.from(got.ids.subarray(0, rows.length * k)), [0, 1, 2, 1, 3, 5, 0, 3, 4, 1, 3, 5]);
  }
});

kernelTest('moe_topk: more than 65535 workgroups of tokens (2-D fold)', async (h) => {
  const rnd = seeded(122);
  const n_tokens = 65535 * 64 + 50;
  assert.ok(grid(n_tokens)[1] > 1);
  const logits = randn((n_tokens + 1) * 2, rnd);
  const p = params(2, 1, false);
  const got = await topk(h, logits, n_tokens, p);
  check(got, logits, n_tokens, p, 'folded grid');
});

kernelTest('moe_topk: sigmoid gating and a weight scale, norm on/off', async (h) => {
  const rnd = seeded(123);
  for (const [n_tokens, n_expert, k] of [[3, 8, 2], [17, 64, 8], [5, 256, 6]] as const) {
    for (const norm of [true, false]) {
      const logits = randn((n_tokens + 1) * n_expert, rnd, 2);
      const p = params(n_expert, k, norm, 'sigmoid', 2.5);
      check(await topk(h, logits, n_tokens, p), logits, n_tokens, p, JSON.stringify({ n_tokens, n_expert, k, norm, gating: 'sigmoid' }));
    }
  }
});
