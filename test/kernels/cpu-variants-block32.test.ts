/**
 * The relaxed-SIMD build gives the same bits as the SIMD128 baseline for the 32-value-block formats too
 * (matmul_q4_1 / q5_0 / q5_1 / iq4_nl / mxfp4, decode and prefill): their relaxed dot products form the
 * same exact integer block sums, and the f32 steps after them are the same in both builds. Skipped (with
 * the reason) when the relaxed build is absent or this engine cannot compile it.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { CPU_VARIANTS, CpuKernels, variantSkipReason } from './cpu-wasm.js';
import { randn, seeded } from './kernel-test-utils.js';

const [baseline, relaxed] = CPU_VARIANTS as [(typeof CPU_VARIANTS)[number], (typeof CPU_VARIANTS)[number]];

/** Block bytes, where the f16 scales sit (finite ones are written there), and the activation converter. */
const FORMATS: Record<string, { blockBytes: number; f16At: number[]; e8m0?: boolean; act: 'quantize_row_q8_0' | 'quantize_row_q8_1' }> = {
  q4_1: { blockBytes: 20, f16At: [0, 2], act: 'quantize_row_q8_1' },
  q5_0: { blockBytes: 22, f16At: [0], act: 'quantize_row_q8_0' },
  q5_1: { blockBytes: 24, f16At: [0, 2], act: 'quantize_row_q8_1' },
  iq4_nl: { blockBytes: 18, f16At: [0], act: 'quantize_row_q8_0' },
  mxfp4: { blockBytes: 17, f16At: [], e8m0: true, act: 'quantize_row_q8_0' },
};

describe('cpu kernels: 32-value-block formats, relaxed-SIMD build = baseline bit for bit', { skip: variantSkipReason(relaxed) }, () => {
  let a: CpuKernels;
  let b: CpuKernels;
  before(async () => {
    a = await CpuKernels.load(1024, baseline.path);
    b = await CpuKernels.load(1024, relaxed.path);
  });

  function run(k: CpuKernels, fmt: string, rows: number, cols: number, ntok: number): Uint8Array {
    const f = FORMATS[fmt]!;
    k.reset();
    const rnd = seeded(3);
    const nb = (rows * cols) / 32;
    const wb = nb * f.blockBytes;
    const w = k.alloc(wb);
    const bytes = k.bytes(w, wb);
    for (let i = 0; i < wb; i++) bytes[i] = Math.floor(rnd() * 256);
    for (let i = 0; i < nb; i++) {
      for (const at of f.f16At) bytes[i * f.blockBytes + at + 1]! &= 0xbb; // finite scales
      if (f.e8m0) bytes[i * f.blockBytes] = 100 + (bytes[i * f.blockBytes]! % 40);
    }
    const xf = k.put(randn(ntok * cols, rnd));
    const rowBytes = (cols / 32) * (f.act === 'quantize_row_q8_1' ? 36 : 34);
    const xq = k.alloc(ntok * rowBytes);
    for (let t = 0; t < ntok; t++) k.fn(f.act)(xf + t * cols * 4, xq + t * rowBytes, cols);
    const y = k.alloc(ntok * rows * 4);
    k.fn(`matmul_${fmt}`)(w, xq, y, rows, cols, ntok, rows);
    return k.readBytes(y, ntok * rows * 4);
  }

  for (const fmt of Object.keys(FORMATS)) {
    it(`matmul_${fmt}: ntok 1 and 7`, () => {
      for (const ntok of [1, 7]) {
        const x = run(a, fmt, 45, 1056, ntok);
        const y = run(b, fmt, 45, 1056, ntok);
        const i = x.findIndex((v, j) => v !== y[j]);
        assert.ok(i < 0, `matmul_${fmt} ntok=${ntok}: byte ${i} differs between ${baseline.name} and ${relaxed.name}`);
      }
    });
  }
});
