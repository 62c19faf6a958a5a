/**
 * The CPU kernels' matmuls (matmul_<fmt> in dist/moecode-cpu.wasm) against a float64 reference: the
 * weights dequantised exactly by daemon/formats, times the activations as ggml's dot products see them
 * (converted to the format's vec_dot_type by the byte-exact references in cpu-activation-refs.ts, which
 * also produce the bytes the kernel reads). Shapes cover one block, block counts that are not a multiple
 * of the kernels' four-block step, row counts that are not a multiple of anything, 1..9 tokens (decode,
 * token tiles with ragged tails), several row panels, column chunks, and an output stride wider than
 * nrows (the gaps must stay untouched). Weights come from ggml's quantizers and from random raw blocks
 * (every nibble and byte, −128 included, f16 subnormal scales).
 * Tolerance: |y − ref| <= 1e-6 · Σ_c |W[r, c] · a[c]| (f32 accumulation; the quantised block sums are exact).
 * Also dequantize_row_<fmt> against the same dequantisation, bit for bit.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { F16 } from '../../daemon/formats/f16.js';
import { F32 } from '../../daemon/formats/f32.js';
import type { TensorFormat } from '../../daemon/formats/format.js';
import { bf16BitsToF32, f32ToBf16Bits, f32ToF16Bits } from '../../daemon/formats/half.js';
import { Q4_0 } from '../../daemon/formats/q4_0.js';
import { Q8_0 } from '../../daemon/formats/q8_0.js';
import { type ActivationKind, decodeActivation, quantizeActivationRef } from './cpu-activation-refs.js';
import { compareWithReference, denseDot, runMatmul } from './cpu-matmul-harness.js';
import { type CpuKernels, describeCpuVariants } from './cpu-wasm.js';
import { assertSameF32Bits, randn, seeded } from './kernel-test-utils.js';

const RTOL = 1e-6;

/** A weight format as the test drives it: bytes per row, exact dequantisation, random weights. */
interface Fmt {
  name: string;
  blockSize: number;
  activation: ActivationKind;
  rowBytes(cols: number): number;
  dequantize(bytes: Uint8Array, n: number): Float32Array;
  /** Weights from ggml's quantizer (or plain values for the float formats). */
  fromValues(x: Float32Array): Uint8Array;
  /** Random valid raw blocks, when the format has a layout worth fuzzing. */
  rawBlocks?(rows: number, cols: number, rnd: () => number): Uint8Array;
}

function viaFormat(f: TensorFormat, name: string): Pick<Fmt, 'dequantize' | 'fromValues' | 'rowBytes' | 'blockSize'> {
  return {
    blockSize: f.blockSize,
    rowBytes: (c) => (c / f.blockSize) * f.typeSize,
    dequantize(bytes, n) {
      const out = new Float32Array(n);
      f.dequantize(bytes, n / f.blockSize, out, 0);
      return out;
    },
    fromValues(x) {
      const out = new Uint8Array((x.length / f.blockSize) * f.typeSize);
      if (!f.quantize) throw new Error(`${name}: no quantizer`);
      f.quantize(x, out, 0);
      return out;
    },
  };
}

/** Random blocks of `blockBytes` with an f16 scale at byte 0: mostly ~1e-2, some subnormal, some large. */
function rawScaledBlocks(blockBytes: number) {
  return (rows: number, cols: number, rnd: () => number): Uint8Array => {
    const nb = (rows * cols) / 32;
    const out = new Uint8Array(nb * blockBytes);
    for (let i = 0; i < out.length; i++) out[i] = Math.floor(rnd() * 256);
    for (let b = 0; b < nb; b++) {
      const u = rnd();
      const d = u < 0.1 ? 3e-6 * rnd() : u < 0.15 ? 30 * rnd() : 0.02 * rnd();
      const h = f32ToF16Bits(rnd() < 0.5 ? d : -d);
      out[b * blockBytes] = h & 0xff;
      out[b * blockBytes + 1] = h >> 8;
    }
    return out;
  };
}

const FORMATS: Fmt[] = [
  { name: 'f32', activation: 'f32', ...viaFormat(F32, 'f32') },
  {
    name: 'f16',
    activation: 'f16',
    ...viaFormat(F16, 'f16'),
    rawBlocks(rows, cols, rnd) {
      // every finite half, subnormals included (exponent 0x1f excluded: inf/NaN weights make NaN outputs)
      const out = new Uint8Array(rows * cols * 2);
      for (let i = 0; i < rows * cols; i++) {
        let h = Math.floor(rnd() * 65536);
        if ((h & 0x7c00) === 0x7c00) h &= 0xbfff;
        out[2 * i] = h & 0xff;
        out[2 * i + 1] = h >> 8;
      }
      return out;
    },
  },
  {
    name: 'bf16',
    activation: 'bf16',
    blockSize: 1,
    rowBytes: (c) => c * 2,
    dequantize(bytes, n) {
      const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
      return Float32Array.from({ length: n }, (_, i) => bf16BitsToF32(dv.getUint16(2 * i, true)));
    },
    fromValues(x) {
      const out = new Uint8Array(x.length * 2);
      const dv = new DataView(out.buffer);
      x.forEach((v, i) => dv.setUint16(2 * i, f32ToBf16Bits(v), true));
      return out;
    },
  },
  { name: 'q8_0', activation: 'q8_0', ...viaFormat(Q8_0, 'q8_0'), rawBlocks: rawScaledBlocks(34) },
  { name: 'q4_0', activation: 'q8_0', ...viaFormat(Q4_0, 'q4_0'), rawBlocks: rawScaledBlocks(18) },
];

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
function check(f: Fmt, c: Case): number {
  const rnd = seeded(c.seed);
  const w = c.raw && f.rawBlocks ? f.rawBlocks(c.rows, c.cols, rnd) : f.fromValues(randn(c.rows * c.cols, rnd, 0.5));
  const wv = f.dequantize(w, c.rows * c.cols);
  const ystride = c.ystride ?? c.rows;
  // activations: normal at a different scale per token, one token with an all-zero first block
  const xBytes: Uint8Array[] = [];
  const xSeen: Float64Array[] = [];
  for (let t = 0; t < c.ntok; t++) {
    const x = randn(c.cols, rnd, 2 ** (t % 5) * 0.3);
    if (t === 2) x.fill(0, 0, Math.min(c.cols, 32));
    const bytes = quantizeActivationRef(f.activation, x);
    xBytes.push(bytes);
    xSeen.push(decodeActivation(f.activation, bytes, c.cols));
  }
  const got = runMatmul(k, { name: f.name, weights: w, activations: xBytes, rows: c.rows, cols: c.cols, ystride });
  return compareWithReference(got, c.rows, (t, r) => denseDot(wv, r, c.cols, xSeen[t]!), {
    rtol: RTOL,
    atol: 1e-30,
    what: `matmul_${f.name} ${c.rows}x${c.cols} ntok=${c.ntok}${c.raw ? ' raw blocks' : ''}`,
  });
}

describeCpuVariants('cpu kernels: matmul_<fmt> against the float64 reference', (kernels) => (k = kernels), () => {
  for (const f of FORMATS) {
    const colsList = f.blockSize === 32 ? [32, 96, 160, 1024] : [1, 7, 8, 13, 40, 100, 1000];
    it(`${f.name}: ncols ${colsList.join('/')}, nrows 1/5/37, ntok 1..9`, () => {
      let worst = 0;
      let seed = 1;
      for (const cols of colsList) {
        for (const rows of [1, 5, 37]) {
          for (let ntok = 1; ntok <= 9; ntok++) worst = Math.max(worst, check(f, { rows, cols, ntok, seed: seed++ }));
        }
      }
      assert.ok(worst > 0, "every result was exact: the comparison cannot be trusted");
      console.log(f.name, "worst", worst);
    });

    if (f.rawBlocks) {
      it(`${f.name}: random raw blocks (every code, subnormal scales)`, () => {
        for (const ntok of [1, 3, 4, 6]) check(f, { rows: 19, cols: f.blockSize === 32 ? 288 : 200, ntok, raw: true, seed: 1000 + ntok });
      });
    }

    it(`${f.name}: several row panels and column chunks, output stride wider than nrows`, () => {
      const cols = f.blockSize === 32 ? 4096 : 4100;
      check(f, { rows: f.name === 'f32' ? 40 : 150, cols, ntok: 5, ystride: 160, seed: 77 });
      check(f, { rows: 150, cols, ntok: 1, ystride: 160, seed: 78 });
      // prefill rows longer than one column chunk (8192 values for the q8 formats, 4096 for the float ones)
      check(f, { rows: 9, cols: f.blockSize === 32 ? 8192 + 96 : 8200 + 3, ntok: 6, seed: 79 });
    });

    it(`dequantize_row_${f.name}: exact`, () => {
      const n = f.blockSize === 32 ? 320 : 77;
      const rnd = seeded(5);
      const w = f.rawBlocks ? f.rawBlocks(1, n, rnd) : f.fromValues(randn(n, rnd));
      k.reset();
      const wp = k.put(w);
      const yp = k.alloc((n + 8) * 4);
      k.f32(yp, n + 8).fill(7);
      k.fn(`dequantize_row_${f.name}`)(wp, yp, n);
      const y = k.readF32(yp, n + 8);
      assertSameF32Bits(y.subarray(0, n), f.dequantize(w, n), `dequantize_row_${f.name}`);
      assert.ok(y.subarray(n).every((v) => v === 7), `dequantize_row_${f.name} wrote past n`);
    });
  }
});
