/**
 * shaders/glu.wgsl vs daemon/gpu/cpu-reference/glu.ts: out = act(gate) · up in place of gate.
 * Tolerances: SiLU and GELU (tanh form, evaluated on the GPU) |err| <= 2e-6 · |act(g)·u| + 1e-6 · |u|
 * (f32 exp/tanh near their ~1e-7 accuracy; the absolute term covers act(g) ≈ 0); GELU through ggml's f16
 * table (gelu_f16 = 1) bit-exact: the table entry is exact and the product one f32 rounding. The reference
 * table is ggml's as an FMA-enabled x86-64 build computes it; without the FMA contraction one entry
 * (x = -1.999) rounds the other way, which the all-f16 test shows.
 */
import assert from 'node:assert/strict';
import { gluRef, type GluActRef } from '../../daemon/gpu/cpu-reference/glu.js';
import { geluF16Table } from '../../daemon/model/gelu-table.js';
import { f16BitsToF32 } from '../../daemon/gguf/quantize.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { assertClose, assertSameF32Bits, randn, seeded } from './kernel-test-utils.js';

async function glu(h: GpuKernelHarness, act: Exclude<GluActRef, 'gelu-f16-nofma'>, n: number, n_tokens: number, rows_per_token: number, gate: Float32Array, up: Float32Array): Promise<Float32Array> {
  const out = await h.run({
    kernel: 'glu',
    step: { n_tokens },
    params: [n, rows_per_token, act === 'silu' ? 0 : 1, act === 'gelu-f16' ? 1 : 0],
    bindings: { 2: gate, 3: up, 4: geluF16Table() },
    dispatch: grid(n_tokens * rows_per_token * n),
    read: [2],
  });
  return new Float32Array(out[2]!);
}

const shapes = [
  { n: 64, n_tokens: 1, rows_per_token: 1 },
  { n: 37, n_tokens: 3, rows_per_token: 2 }, // odd row length
  { n: 1408, n_tokens: 5, rows_per_token: 1 },
  { n: 128, n_tokens: 17, rows_per_token: 4 }, // expert slots: n_expert_used rows per token
  { n: 96, n_tokens: 70, rows_per_token: 1 },
];

/** Random gates over the interesting range, plus the edges of ggml's GELU table (±10) and beyond. */
function gates(len: number, rnd: () => number): Float32Array {
  const g = randn(len, rnd, 3);
  const edges = [-10, 10, -9.999, 9.999, -10.001, 10.001, -30, 30, 0, -0, 1e-8, -1e-8, -88, 88, 0.5, -0.5];
  for (let i = 0; i < Math.min(edges.length, len); i++) g[i] = edges[i]!;
  return g;
}

for (const act of ['silu', 'gelu', 'gelu-f16'] as const) {
  kernelTest(`glu ${act}: n 37..1408, n_tokens 1..70, rows_per_token 1..4; rows past the step untouched`, async (h) => {
    const rnd = seeded(act === 'silu' ? 51 : act === 'gelu' ? 52 : 53);
    for (const c of shapes) {
      const count = c.n_tokens * c.rows_per_token * c.n;
      const gate = gates(count + c.n, rnd); // one more row than the step covers
      const up = randn(count + c.n, rnd, 2);
      const y = await glu(h, act, c.n, c.n_tokens, c.rows_per_token, gate, up);
      const ref = gluRef(gate, up, act, count);
      const what = `${act} ${JSON.stringify(c)}`;
      if (act === 'gelu-f16') assertSameF32Bits(y.subarray(0, count), Float32Array.from(ref), what);
      else assertClose(y.subarray(0, count), ref, { rtol: 2e-6, scale: Float64Array.from(ref, (v, i) => Math.abs(v) + 0.5 * Math.abs(up[i]!)), what });
      assertSameF32Bits(y.subarray(count), gate.subarray(count), `${what}: past the step`);
    }
  });
}

kernelTest('glu gelu-f16: every f16 input value in (-10, 10) gives ggml table entry · up', async (h) => {
  // All 65536 f16 bit patterns as gate values (those in (-10, 10) go through the table; NaN/inf excluded).
  const g: number[] = [];
  for (let b = 0; b < 65536; b++) {
    const v = f16BitsToF32(b);
    if (Number.isFinite(v)) g.push(v);
  }
  const gate = Float32Array.from(g);
  const up = new Float32Array(gate.length).fill(1);
  const y = await glu(h, 'gelu-f16', gate.length, 1, 1, gate, up);
  assertSameF32Bits(y, Float32Array.from(gluRef(gate, up, 'gelu-f16')), 'gelu over all f16 values');
  // The table path really differs from the tanh formula somewhere (else this test would not see it).
  const exact = gluRef(gate, up, 'gelu');
  assert.ok(y.some((v, i) => v !== Math.fround(exact[i]!)));
  // Against the table built without FMA contraction, exactly one entry differs: f16 0xbfff (x = -1.9990234375).
  const nofma = Float32Array.from(gluRef(gate, up, 'gelu-f16-nofma'));
  const differ = [...y.keys()].filter((i) => y[i] !== nofma[i]).map((i) => gate[i]);
  assert.deepEqual(differ, [-1.9990234375]);
});

kernelTest('glu silu: more than 65535 workgroups (2-D fold)', async (h) => {
  const rnd = seeded(54);
  const n = 4096;
  const n_tokens = 1025; // 4.2M elements > 65535 * 64
  assert.ok(grid(n * n_tokens)[1] > 1);
  const gate = randn(n * n_tokens, rnd, 3);
  const up = randn(n * n_tokens, rnd);
  const y = await glu(h, 'silu', n, n_tokens, 1, gate, up);
  const ref = gluRef(gate, up, 'silu');
  assertClose(y, ref, { rtol: 2e-6, scale: Float64Array.from(ref, (v, i) => Math.abs(v) + 0.5 * Math.abs(up[i]!)), what: 'folded grid' });
});
