/**
 * The relaxed-SIMD build of the CPU kernels (dist/moecode-cpu-relaxed.wasm) gives the same bits as the
 * SIMD128 baseline (dist/moecode-cpu.wasm) for every matmul, decode and prefill, and for the float ops:
 * its only difference is how Q4_0's exact integer block sums are formed, and neither build fuses
 * multiply-adds. So the runtime may pick either without changing a result. Skipped (with the reason) when
 * the relaxed build is absent or this engine cannot compile it.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CPU_VARIANTS, CpuKernels, variantSkipReason } from './cpu-wasm.js';
import { randn, seeded } from './kernel-test-utils.js';

const [baseline, relaxed] = CPU_VARIANTS as [(typeof CPU_VARIANTS)[number], (typeof CPU_VARIANTS)[number]];

/** Fills both instances' memories identically, runs `call` on each and returns the bytes it wrote. */
type Run = (k: CpuKernels) => { at: number; bytes: number };

describe('cpu kernels: the relaxed-SIMD build matches the baseline bit for bit', { skip: variantSkipReason(relaxed) }, () => {
  let a: CpuKernels;
  let b: CpuKernels;
  before(async () => {
    a = await CpuKernels.load(1024, baseline.path);
    b = await CpuKernels.load(1024, relaxed.path);
  });

  function same(what: string, run: Run): void {
    a.reset();
    b.reset();
    const ra = run(a);
    const rb = run(b);
    const x = a.readBytes(ra.at, ra.bytes);
    const y = b.readBytes(rb.at, rb.bytes);
    const i = x.findIndex((v, j) => v !== y[j]);
    assert.ok(i < 0, `${what}: byte ${i} differs between ${baseline.name} and ${relaxed.name}`);
  }

  const weights: Record<string, (cols: number) => number> = { f32: (c) => c * 4, f16: (c) => c * 2, bf16: (c) => c * 2, q8_0: (c) => (c / 32) * 34, q4_0: (c) => (c / 32) * 18 };
  const act: Record<string, [string, (cols: number) => number]> = {
    f32: ['', (c) => c * 4],
    f16: ['convert_row_f16', (c) => c * 2],
    bf16: ['convert_row_bf16', (c) => c * 2],
    q8_0: ['quantize_row_q8_0', (c) => (c / 32) * 34],
    q4_0: ['quantize_row_q8_0', (c) => (c / 32) * 34],
  };

  for (const fmt of Object.keys(weights)) {
    it(`matmul_${fmt}: ntok 1 and 7`, () => {
      const rows = 45;
      const cols = 1024;
      for (const ntok of [1, 7]) {
        same(`matmul_${fmt} ntok=${ntok}`, (k) => {
          const rnd = seeded(3);
          const wb = weights[fmt]!(cols) * rows;
          const w = k.alloc(wb);
          const bytes = k.bytes(w, wb);
          for (let i = 0; i < wb; i++) bytes[i] = Math.floor(rnd() * 256);
          if (fmt !== 'f32') for (let i = 1; i < wb; i += fmt === 'q8_0' ? 34 : fmt === 'q4_0' ? 18 : 2) bytes[i] &= 0xbb; // finite scales / values
          const xf = k.put(randn(ntok * cols, rnd));
          const [conv, rowBytes] = act[fmt]!;
          const xq = conv ? k.alloc(ntok * rowBytes(cols)) : xf;
          for (let t = 0; conv && t < ntok; t++) k.fn(conv)(xf + t * cols * 4, xq + t * rowBytes(cols), cols);
          const y = k.alloc(ntok * rows * 4);
          k.fn(`matmul_${fmt}`)(w, xq, y, rows, cols, ntok, rows);
          return { at: y, bytes: ntok * rows * 4 };
        });
      }
    });
  }

  it('attention (f16 KV), rms_norm, glu_silu', () => {
    same('attention', (k) => {
      const rnd = seeded(4);
      const [nh, nkv, hd, P] = [8, 2, 64, 20];
      const q = k.put(randn(P * nh * hd, rnd));
      const kc = k.put(Uint16Array.from(randn(P * nkv * hd, rnd), (v) => (v > 0 ? 0x3c00 : 0xbc00) | Math.floor(Math.abs(v) * 512) % 1024));
      const vc = k.put(Uint16Array.from(randn(P * nkv * hd, rnd), (v) => (v > 0 ? 0x3800 : 0xb800) | Math.floor(Math.abs(v) * 512) % 1024));
      const out = k.alloc(P * nh * hd * 4);
      const scratch = k.alloc(4 * P * 4);
      k.fn('attention')(q, kc, vc, out, scratch, P, nh, nkv, hd, hd, 0, 0, nh / nkv, 0, 0.125, 0, 1);
      return { at: out, bytes: P * nh * hd * 4 };
    });
    same('rms_norm + glu_silu', (k) => {
      const rnd = seeded(5);
      const x = k.put(randn(3 * 1000, rnd));
      const w = k.put(randn(1000, rnd));
      k.fn('rms_norm')(x, w, x, 1000, 3, 1e-6);
      const up = k.put(randn(3000, rnd));
      k.fn('glu_silu')(x, up, 3000);
      return { at: x, bytes: 3000 * 4 };
    });
  });
});
