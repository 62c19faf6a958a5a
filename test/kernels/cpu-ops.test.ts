/**
 * The CPU kernels' f32 ops (dist/moecode-cpu.wasm) against daemon/gpu/cpu-reference:
 *  - rms_norm vs rmsNormRef (float64): |err| <= 1e-6 · |ref| + 1e-30, with and without weight, in place;
 *  - rope vs ropeRef (float64, ggml's f32 angles) with the runtime's cos/sin table (gpu/rope-table.ts),
 *    NORM and NEOX, n_rot < head_dim, positions past 0: |err| <= 1e-6 · (|x_a| + |x_b|) of the pair;
 *  - glu_silu vs siluRef · up (float64): |err| <= 1e-6 · |ref| + 1e-35, saturating inputs included (past
 *    gate = −88.7, e^−gate overflows f32 and ggml's silu is −0 where float64 still has ~1e-37);
 *  - glu_gelu vs ggml's f16-table GELU (gpu/gelu-table.ts), product in f32: bit for bit;
 *  - add_scaled: bit for bit (one f32 multiply and one f32 add).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { f16BitsToF32, f32ToF16Bits } from '../../daemon/formats/half.js';
import { siluRef } from '../../daemon/gpu/cpu-reference/glu.js';
import { rmsNormRef } from '../../daemon/gpu/cpu-reference/rms-norm.js';
import { ropeRef } from '../../daemon/gpu/cpu-reference/rope.js';
import { geluF16Table } from '../../daemon/model/gelu-table.js';
import { ropeTable } from '../../daemon/model/rope-table.js';
import { type CpuKernels, describeCpuVariants } from './cpu-wasm.js';
import { assertClose, assertSameF32Bits, randn, randu, seeded } from './kernel-test-utils.js';

let k: CpuKernels;

describeCpuVariants('cpu kernels: f32 ops against the CPU references', (kernels) => (k = kernels), () => {
  it('rms_norm: widths 1..4096, several rows, with and without weight, in place', () => {
    for (const [n, rows, seed] of [
      [1, 3, 1],
      [7, 2, 2],
      [64, 5, 3],
      [100, 3, 4],
      [4096, 2, 5],
    ] as const) {
      const rnd = seeded(seed);
      const x = randn(n * rows, rnd, 3);
      const w = randn(n, rnd);
      for (const withWeight of [true, false]) {
        for (const inPlace of [false, true]) {
          k.reset();
          const xp = k.put(x);
          const wp = withWeight ? k.put(w) : 0;
          const yp = inPlace ? xp : k.alloc(n * rows * 4);
          k.fn('rms_norm')(xp, wp, yp, n, rows, 1e-5);
          const want = rmsNormRef(x, n, rows, 1e-5, withWeight ? w : undefined);
          assertClose(k.readF32(yp, n * rows), want, { rtol: 1e-6, atol: 1e-30, what: `rms_norm n=${n} rows=${rows} weight=${withWeight} inPlace=${inPlace}` });
        }
      }
    }
  });

  it('rope: NORM and NEOX, n_rot < head_dim, odd pair counts, positions past 0', () => {
    const cases = [
      { mode: 'norm', n_head: 3, head_dim: 64, n_rot: 64, ntok: 4, pos0: 0 },
      { mode: 'neox', n_head: 3, head_dim: 64, n_rot: 64, ntok: 4, pos0: 7 },
      { mode: 'norm', n_head: 2, head_dim: 40, n_rot: 22, ntok: 3, pos0: 100 },
      { mode: 'neox', n_head: 2, head_dim: 40, n_rot: 22, ntok: 3, pos0: 100 },
      { mode: 'neox', n_head: 4, head_dim: 128, n_rot: 128, ntok: 2, pos0: 2000 },
      { mode: 'norm', n_head: 1, head_dim: 6, n_rot: 2, ntok: 2, pos0: 1 },
    ] as const;
    const freqBase = 10000;
    let seed = 1;
    for (const c of cases) {
      const n = c.ntok * c.n_head * c.head_dim;
      const x = randn(n, seeded(seed++));
      const table = ropeTable(c.pos0 + c.ntok, c.n_rot, { freq_base: freqBase, freq_scale: 1, attn_factor: 1, ext_factor: 0, beta_fast: 32, beta_slow: 1, n_ctx_orig: c.pos0 + c.ntok });
      k.reset();
      const xp = k.put(x);
      const tp = k.put(table);
      k.fn('rope')(xp, tp, c.ntok, c.n_head, c.head_dim, c.n_rot, c.mode === 'neox' ? 1 : 0, c.pos0);
      const got = k.readF32(xp, n);
      const want = ropeRef(x, c.ntok, c.pos0, { n_head: c.n_head, head_dim: c.head_dim, n_rot: c.n_rot, mode: c.mode, freq_base: freqBase });
      // the pair's magnitude bounds the rounding; dimensions past n_rot must be untouched
      const scale = new Float64Array(n);
      for (let i = 0; i < n; i++) {
        const d = i % c.head_dim;
        if (d >= c.n_rot) {
          assert.equal(got[i], x[i], `rope ${c.mode}: dimension ${d} >= n_rot changed`);
          continue;
        }
        const base = i - d;
        const partner = c.mode === 'norm' ? base + (d ^ 1) : base + (d < c.n_rot / 2 ? d + c.n_rot / 2 : d - c.n_rot / 2);
        scale[i] = Math.abs(x[i]!) + Math.abs(x[partner]!);
      }
      assertClose(got, want, { rtol: 1e-6, atol: 1e-30, scale, what: `rope ${c.mode} n_rot=${c.n_rot}/${c.head_dim} pos0=${c.pos0}` });
    }
  });

  it('glu_silu: silu(gate) · up, including saturating gates', () => {
    const rnd = seeded(9);
    const n = 1027;
    const gate = randn(n, rnd, 4);
    gate.set([0, -0, 1e-20, -1e-20, 20, -20, 88, -88, 89, -89, 100, -100, 200, -200, 1e30, -1e30], 3);
    const up = randn(n, rnd);
    k.reset();
    const gp = k.put(gate);
    const up_ = k.put(up);
    k.fn('glu_silu')(gp, up_, n);
    const want = Float64Array.from(gate, (g, i) => siluRef(g) * up[i]!);
    assertClose(k.readF32(gp, n), want, { rtol: 1e-6, atol: 1e-35, what: 'glu_silu' });
  });

  it("glu_gelu: ggml's f16 GELU table, exact 0 / x beyond ±10, bit for bit", () => {
    const rnd = seeded(10);
    const n = 2001;
    const gate = randu(n, rnd, -12, 12);
    gate.set([-10, 10, -9.999999, 9.999999, -10.000001, 10.000001, 0, -0, 1e-30, -3.5, 3.5], 0);
    const up = randn(n, rnd);
    const table = new Uint16Array(geluF16Table().buffer);
    k.reset();
    const gp = k.put(gate);
    const upp = k.put(up);
    const tp = k.put(table);
    k.fn('glu_gelu')(gp, upp, n, tp);
    const want = Float32Array.from(gate, (x, i) => {
      if (x <= -10) return 0;
      if (x >= 10) return x * up[i]!;
      return f16BitsToF32(table[f32ToF16Bits(x)]!) * up[i]!;
    });
    assertSameF32Bits(k.readF32(gp, n), want, 'glu_gelu');
  });

  it('add_scaled: y += s·x, bit for bit, any length', () => {
    for (const n of [1, 5, 8, 1001]) {
      const rnd = seeded(n);
      const y = randn(n, rnd);
      const x = randn(n, rnd);
      k.reset();
      const yp = k.put(y);
      const xp = k.put(x);
      k.fn('add_scaled')(yp, xp, 0.37, n);
      const s = Math.fround(0.37);
      assertSameF32Bits(k.readF32(yp, n), Float32Array.from(y, (v, i) => v + Math.fround(s * x[i]!)), `add_scaled n=${n}`);
    }
  });
});
