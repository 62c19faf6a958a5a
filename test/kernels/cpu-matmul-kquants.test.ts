/**
 * The CPU kernels of the formats on q8_K activations (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_XS;
 * daemon/cpu/kernels/matmul-qk.h) against a float64 reference, on every built variant: the weights
 * dequantised exactly by daemon/formats, times the activations as ggml's dot products see them (quantised
 * by the byte-exact q8_K codec of daemon/formats, which also gives the bytes the kernel reads).
 *
 * Weights: the model generator's random blocks (tools/modelgen/random-blocks.ts: sane spreads, Q6_K's −128
 * scales, signed 6-bit scales, IQ4_XS's subnormal d) and fully random raw blocks (every code and packed
 * scale bit, the 6-bit scales' high bits included) whose f16 d/dmin are random normal, subnormal or large
 * values of either sign; Q6_K raw blocks also get −128 and negative scales on purpose.
 * Shapes: ncols 256..3072 (1..12 blocks: tails of the four-block step), rows 1/5/37, 1..9 tokens (decode,
 * token tiles with ragged tails), several row panels, several column chunks (> 32 blocks), an output
 * stride wider than nrows (the gaps stay untouched), the largest row a decode call takes (65536).
 * Tolerance: |y − ref| <= 1e-6 · Σ_c |W[r, c] · a[c]| (the block sums are exact integers; what rounds is
 * f32: the scale products, each block's terms (for the formats with mins d·d_x·I and dmin·d_x·M apart, as
 * ggml) and their sum over blocks; the worst seen is ~5e-8, printed per case).
 * Also dequantize_row_<fmt> bit for bit, and the relaxed-SIMD build's bits against the baseline's.
 */
import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { ACT_Q8_K } from '../../daemon/formats/activation-q8_k.js';
import { writeF16 } from '../../daemon/formats/block-io.js';
import type { TensorFormat } from '../../daemon/formats/format.js';
import { IQ4_XS } from '../../daemon/formats/iq4_xs.js';
import { Q2_K } from '../../daemon/formats/q2_k.js';
import { Q3_K } from '../../daemon/formats/q3_k.js';
import { Q4_K } from '../../daemon/formats/q4_k.js';
import { Q5_K } from '../../daemon/formats/q5_k.js';
import { Q6_K } from '../../daemon/formats/q6_k.js';
import { Rng } from '../../tools/modelgen/prng.js';
import { randomBlocks } from '../../tools/modelgen/random-blocks.js';
import { compareWithReference, denseDot, runMatmul } from './cpu-matmul-harness.js';
import { CPU_VARIANTS, type CpuKernels, CpuKernels as Kernels, describeCpuVariants, variantSkipReason } from './cpu-wasm.js';
import { assertSameF32Bits, randn, seeded } from './kernel-test-utils.js';

const RTOL = 1e-6;

interface KFmt {
  f: TensorFormat;
  /** Byte offsets of the block's f16 scales (d, then dmin where the format has one). */
  f16At: number[];
  /** Writes format-specific corner cases into a raw block at `at`. */
  corners?(b: Uint8Array, at: number, rnd: () => number): void;
}

const KFORMATS: KFmt[] = [
  { f: Q2_K, f16At: [80, 82] },
  { f: Q3_K, f16At: [108] },
  { f: Q4_K, f16At: [0, 2] },
  { f: Q5_K, f16At: [0, 2] },
  {
    f: Q6_K,
    f16At: [208],
    corners(b, at, rnd) {
      // −128 and other negative int8 scales in a few sub-blocks of each block
      for (let s = 0; s < 16; s++) {
        const u = rnd();
        if (u < 0.15) b[at + 192 + s] = 0x80;
        else if (u < 0.3) b[at + 192 + s] = (256 - 1 - Math.floor(rnd() * 127)) & 0xff;
      }
    },
  },
  { f: IQ4_XS, f16At: [0] },
];

const exportName = (k: KFmt) => k.f.cpu!;

/** Fully random blocks; each f16 scale random in sign and kind: subnormal (10%), large (5%), else ~1e-2..1e-4. */
function rawBlocks(k: KFmt, rows: number, cols: number, rnd: () => number): Uint8Array {
  const nb = (rows * cols) / 256;
  const ts = k.f.typeSize;
  const out = new Uint8Array(nb * ts);
  for (let i = 0; i < out.length; i++) out[i] = Math.floor(rnd() * 256);
  for (let b = 0; b < nb; b++) {
    for (const o of k.f16At) {
      const u = rnd();
      const v = u < 0.1 ? 5e-5 * rnd() : u < 0.15 ? 4 * rnd() : 10 ** -(2 + 2 * rnd());
      writeF16(out, b * ts + o, rnd() < 0.5 ? v : -v);
    }
    k.corners?.(out, b * ts, rnd);
  }
  return out;
}

function sensibleBlocks(k: KFmt, rows: number, cols: number, seed: number): Uint8Array {
  return randomBlocks(k.f.type, rows * cols, 0.05, new Rng(seed));
}

function dequantize(k: KFmt, w: Uint8Array, n: number): Float32Array {
  const out = new Float32Array(n);
  k.f.dequantize(w, n / 256, out, 0);
  return out;
}

function quantizeQ8K(x: Float32Array): { bytes: Uint8Array; seen: Float64Array } {
  const bytes = new Uint8Array((x.length / 256) * 292);
  ACT_Q8_K.quantize(x, bytes, 0);
  const seen = new Float64Array(x.length);
  ACT_Q8_K.decode(bytes, x.length, seen);
  return { bytes, seen };
}

let k: CpuKernels;

interface Case {
  rows: number;
  cols: number;
  ntok: number;
  ystride?: number;
  raw?: boolean;
  seed: number;
}

/** Runs matmul_<fmt> and the reference on one case and compares; returns the worst err / (Σ|w·a|). */
function check(f: KFmt, c: Case): number {
  const rnd = seeded(c.seed);
  const w = c.raw ? rawBlocks(f, c.rows, c.cols, rnd) : sensibleBlocks(f, c.rows, c.cols, c.seed);
  const wv = dequantize(f, w, c.rows * c.cols);
  const ystride = c.ystride ?? c.rows;
  // activations: normal at a different scale per token, one token with an all-zero first block, one with a
  // single large value per block (q8_K's d then comes from it)
  const xBytes: Uint8Array[] = [];
  const xSeen: Float64Array[] = [];
  for (let t = 0; t < c.ntok; t++) {
    const x = randn(c.cols, rnd, 2 ** (t % 5) * 0.3);
    if (t === 2) x.fill(0, 0, 256);
    if (t === 3) for (let b = 0; b < c.cols; b += 256) x[b + Math.floor(rnd() * 256)] = -40;
    const q = quantizeQ8K(x);
    xBytes.push(q.bytes);
    xSeen.push(q.seen);
  }
  const got = runMatmul(k, { name: exportName(f), weights: w, activations: xBytes, rows: c.rows, cols: c.cols, ystride });
  return compareWithReference(got, c.rows, (t, r) => denseDot(wv, r, c.cols, xSeen[t]!), {
    rtol: RTOL,
    atol: 1e-30,
    what: `matmul_${exportName(f)} ${c.rows}x${c.cols} ntok=${c.ntok}${c.raw ? ' raw blocks' : ''}`,
  });
}

describeCpuVariants('cpu kernels: matmul_<fmt> of the q8_K formats against the float64 reference', (kernels) => (k = kernels), () => {
  for (const f of KFORMATS) {
    const name = exportName(f);
    it(`${f.f.name}: has a cpu kernel name`, () => assert.ok(f.f.cpu, `${f.f.name}.cpu is not set`));

    it(`${name}: ncols 256/768/1280/3072, nrows 1/5/37, ntok 1..9`, (t) => {
      let worst = 0;
      let seed = 1;
      for (const cols of [256, 768, 1280, 3072]) {
        for (const rows of [1, 5, 37]) {
          for (let ntok = 1; ntok <= 9; ntok++) worst = Math.max(worst, check(f, { rows, cols, ntok, seed: seed++ }));
        }
      }
      assert.ok(worst > 0, 'every result was exact: the comparison cannot be trusted');
      t.diagnostic(`worst |err| / Σ|w·a|: ${worst.toExponential(2)}`);
    });

    it(`${name}: random raw blocks (every code and scale bit, subnormal and negative f16 scales)`, (t) => {
      let worst = 0;
      for (const ntok of [1, 2, 3, 4, 6, 9]) worst = Math.max(worst, check(f, { rows: 19, cols: 1280, ntok, raw: true, seed: 1000 + ntok }));
      worst = Math.max(worst, check(f, { rows: 7, cols: 256 * 9, ntok: 1, raw: true, seed: 1100 }));
      t.diagnostic(`worst |err| / Σ|w·a|: ${worst.toExponential(2)}`);
    });

    it(`${name}: several row panels and column chunks, output stride wider than nrows`, () => {
      check(f, { rows: 150, cols: 4352, ntok: 5, ystride: 160, seed: 77 });
      check(f, { rows: 150, cols: 4352, ntok: 1, ystride: 160, seed: 78 });
      // prefill rows longer than one column chunk (32 blocks)
      check(f, { rows: 9, cols: 256 * 34, ntok: 6, seed: 79, raw: true });
      check(f, { rows: 9, cols: 256 * 34, ntok: 7, seed: 80 });
    });

    it(`${name}: the longest row a call takes (65536 values), decode and prefill`, () => {
      check(f, { rows: 3, cols: 65536, ntok: 1, seed: 90 });
      check(f, { rows: 2, cols: 65536, ntok: 2, seed: 91 });
    });

    it(`dequantize_row_${name}: bit-exact, sensible and raw blocks`, () => {
      for (const raw of [false, true]) {
        const n = 256 * 7;
        const w = raw ? rawBlocks(f, 1, n, seeded(5)) : sensibleBlocks(f, 1, n, 5);
        k.reset();
        const wp = k.put(w);
        const yp = k.alloc((n + 8) * 4);
        k.f32(yp, n + 8).fill(7);
        k.fn(`dequantize_row_${name}`)(wp, yp, n);
        const y = k.readF32(yp, n + 8);
        assertSameF32Bits(y.subarray(0, n), dequantize(f, w, n), `dequantize_row_${name}${raw ? ' raw' : ''}`);
        assert.ok(y.subarray(n).every((v) => v === 7), `dequantize_row_${name} wrote past n`);
      }
    });
  }
});

const [baseline, relaxed] = CPU_VARIANTS as [(typeof CPU_VARIANTS)[number], (typeof CPU_VARIANTS)[number]];

describe('cpu kernels: q8_K formats, the relaxed-SIMD build matches the baseline bit for bit', { skip: variantSkipReason(relaxed) }, () => {
  let a: CpuKernels;
  let b: CpuKernels;
  before(async () => {
    a = await Kernels.load(1024, baseline.path);
    b = await Kernels.load(1024, relaxed.path);
  });

  for (const f of KFORMATS) {
    it(`matmul_${exportName(f)}: ntok 1 and 7, raw blocks`, () => {
      const rows = 45;
      const cols = 256 * 6;
      for (const ntok of [1, 7]) {
        const outs = [a, b].map((kk) => {
          kk.reset();
          const rnd = seeded(3);
          const w = kk.put(rawBlocks(f, rows, cols, rnd));
          const xf = kk.put(randn(ntok * cols, rnd));
          const xq = kk.alloc(ntok * (cols / 256) * 292);
          for (let t = 0; t < ntok; t++) kk.fn('quantize_row_q8_K')(xf + t * cols * 4, xq + t * (cols / 256) * 292, cols);
          const y = kk.alloc(ntok * rows * 4);
          kk.fn(`matmul_${exportName(f)}`)(w, xq, y, rows, cols, ntok, rows);
          return kk.readBytes(y, ntok * rows * 4);
        });
        const i = outs[0]!.findIndex((v, j) => v !== outs[1]![j]);
        assert.ok(i < 0, `matmul_${exportName(f)} ntok=${ntok}: byte ${i} differs between ${baseline.name} and ${relaxed.name}`);
      }
    });
  }
});
