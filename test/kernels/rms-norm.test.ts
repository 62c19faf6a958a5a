/**
 * shaders/rms_norm.wgsl vs daemon/gpu/cpu-reference/rms-norm.ts.
 * Tolerance: f32 kernel vs float64 reference, |err| <= 2e-6 · |expected| + 1e-6 · |weight| (the sum of
 * squares over <= 4096 values rounds to ~1e-6 relative).
 */
import assert from 'node:assert/strict';
import { rmsNormRef } from '../../daemon/gpu/cpu-reference/rms-norm.js';
import { grid, kernelTest } from '../helpers/gpu-harness.js';
import { assertClose, randn, seeded } from './kernel-test-utils.js';

const EPS = 1e-6;
const RTOL = 2e-6;

const cases = [
  { n: 64, n_tokens: 1, rows_per_token: 1 },
  { n: 128, n_tokens: 3, rows_per_token: 1 },
  { n: 4096, n_tokens: 5, rows_per_token: 1 },
  { n: 256, n_tokens: 17, rows_per_token: 1 },
  { n: 64, n_tokens: 70, rows_per_token: 1 },
  { n: 128, n_tokens: 5, rows_per_token: 7 }, // per-head q/k norm: [n_tokens * n_head, head_dim]
  { n: 96, n_tokens: 67, rows_per_token: 3 },
];

for (const inplace of [false, true]) {
  for (const withWeight of [true, false]) {
    const entry = inplace ? 'main_inplace' : 'main';
    kernelTest(`rms_norm ${entry}, ${withWeight ? 'with' : 'without'} weight: n_tokens 1..70, n 64..4096, per-head rows`, async (h) => {
      const rnd = seeded(inplace ? 11 : 12);
      for (const c of cases) {
        const rows = c.n_tokens * c.rows_per_token;
        const x = randn(rows * c.n, rnd, 3);
        // one row of tiny values and one of zeros: eps dominates
        if (rows > 2) {
          x.fill(0, 0, c.n);
          for (let i = c.n; i < 2 * c.n; i++) x[i] = x[i]! * 1e-4;
        }
        const weight = randn(c.n, rnd, 0.5);
        const params = [c.n, c.rows_per_token, withWeight ? 1 : 0, { f32: EPS }];
        // Rows past the step's token count must stay untouched: pad the buffers with a sentinel row block.
        const padded = new Float32Array((rows + c.rows_per_token) * c.n).fill(7.5);
        padded.set(x);
        let y: Float32Array;
        if (inplace) {
          const out = await h.run({ kernel: 'rms_norm', entry, step: { n_tokens: c.n_tokens }, params, bindings: { 2: weight, 5: padded }, dispatch: grid(rows), read: [5] });
          y = new Float32Array(out[5]!);
        } else {
          const out = await h.run({
            kernel: 'rms_norm',
            entry,
            step: { n_tokens: c.n_tokens },
            params,
            bindings: { 2: weight, 3: padded, 4: new Float32Array(padded.length).fill(-3) },
            dispatch: grid(rows),
            read: [4],
          });
          y = new Float32Array(out[4]!);
        }
        const ref = rmsNormRef(x, c.n, rows, EPS, withWeight ? weight : undefined);
        const scale = Float64Array.from(ref, (v, i) => Math.abs(v) + 0.5 * (withWeight ? Math.abs(weight[i % c.n]!) : 1));
        assertClose(y.subarray(0, rows * c.n), ref, { rtol: RTOL, scale, what: `${JSON.stringify(c)}` });
        const tail = y.subarray(rows * c.n);
        const sentinel = inplace ? 7.5 : -3;
        for (let i = 0; i < tail.length; i++) if (tail[i] !== sentinel) throw new Error(`${JSON.stringify(c)}: row past n_tokens written at ${i}: ${tail[i]}`);
      }
    });
  }
}

// More rows than 65535 workgroups of 64 hold: the graph builder folds the grid into y.
kernelTest('rms_norm main and main_inplace: more than 65535 workgroups (2-D fold)', async (h) => {
  const rnd = seeded(13);
  const n = 4;
  const rows = 65535 * 64 + 100;
  assert.ok(grid(rows)[1] > 1);
  const x = randn(rows * n, rnd);
  const weight = randn(n, rnd);
  const ref = rmsNormRef(x, n, rows, EPS, weight);
  const scale = Float64Array.from(ref, (v, i) => Math.abs(v) + 0.5 * Math.abs(weight[i % n]!));
  const params = [n, 1, 1, { f32: EPS }];
  const a = await h.run({ kernel: 'rms_norm', step: { n_tokens: rows }, params, bindings: { 2: weight, 3: x, 4: { bytes: x.byteLength } }, dispatch: grid(rows), read: [4] });
  assertClose(new Float32Array(a[4]!), ref, { rtol: RTOL, scale, what: 'main, folded grid' });
  const b = await h.run({ kernel: 'rms_norm', entry: 'main_inplace', step: { n_tokens: rows }, params, bindings: { 2: weight, 5: x }, dispatch: grid(rows), read: [5] });
  assertClose(new Float32Array(b[5]!), ref, { rtol: RTOL, scale, what: 'main_inplace, folded grid' });
});
