/**
 * The CPU kernels' matmuls and row dequantisation for the 32-value-block formats Q4_1, Q5_0, Q5_1, IQ4_NL
 * and MXFP4 (matmul_<fmt>, dequantize_row_<fmt> in dist/moecode-cpu*.wasm) against a float64 reference
 * built from daemon/formats: each block's integer values come from the format's own dequantize (run on
 * the block with its scale set to 1 and its min to 0), its scale and min from the block bytes, and the
 * activations from the byte-exact x86 codecs (daemon/formats/activation-*.ts, which also produce the bytes
 * the kernel reads). The reference then computes what ggml's vec_dot does per block:
 *   Q4_1 / Q5_1 (q8_1):   d_w·d_x·Σ q_w·q_x + m_w·s_x    (s_x = the activation block's stored f16 sum)
 *   Q5_0 / IQ4_NL (q8_0): d_w·d_x·Σ v_w·q_x             (d_w·d_x exact in f32: two f16)
 *   MXFP4 (q8_0):         f32(d_x·2^(e−128))·Σ v_w·q_x    (the f32 product rounds for e near 0)
 * Tolerance: |y − ref| <= 1e-6 · Σ|block terms| (f32 accumulation over blocks; block sums are exact).
 * Shapes: one block, block counts off the kernels' four-block step, odd row counts, 1..9 tokens, row
 * panels, column chunks, an output stride wider than nrows; weights from ggml's quantizers and random
 * raw blocks (every code, f16-subnormal and large scales and mins, E8M0 exponents 0..255 incl. the
 * subnormal and overflowing ends).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { ACTIVATION_CODECS } from '../../daemon/formats/activation.js';
import { readF16 } from '../../daemon/formats/block-io.js';
import type { TensorFormat } from '../../daemon/formats/format.js';
import { f32ToF16Bits } from '../../daemon/formats/half.js';
import { IQ4_NL, IQ4_VALUES } from '../../daemon/formats/iq4_nl.js';
import { e8m0Half, MXFP4 } from '../../daemon/formats/mxfp4.js';
import { Q4_1 } from '../../daemon/formats/q4_1.js';
import { Q5_0 } from '../../daemon/formats/q5_0.js';
import { Q5_1 } from '../../daemon/formats/q5_1.js';
import { compareWithReference, runMatmul } from './cpu-matmul-harness.js';
import { type CpuKernels, describeCpuVariants } from './cpu-wasm.js';
import { assertSameF32Bits, randn, seeded } from './kernel-test-utils.js';

const RTOL = 1e-6;
const fr = Math.fround;

/** A format as this test drives it. */
interface Fmt {
  f: TensorFormat;
  /** matmul_<name>, dequantize_row_<name>. */
  name: string;
  /** The block scale: an f16 at byte 0, or MXFP4's E8M0 byte. */
  scale: 'f16' | 'e8m0';
  /** Byte offset of the f16 min (Q4_1, Q5_1). */
  minAt?: number;
  /** Weights from values (ggml's quantizer, or a nearest-value one for IQ4_NL). */
  fromValues(x: Float32Array): Uint8Array;
  /** Random valid raw blocks. */
  raw(nBlocks: number, rnd: () => number): Uint8Array;
}

function blockScale(fmt: Fmt, w: Uint8Array, b: number): number {
  const o = b * fmt.f.typeSize;
  return fmt.scale === 'f16' ? readF16(w, o) : e8m0Half(w[o]!);
}

/** The integer value of every weight (the block decoded with scale 1 and min 0 by the format's reference dequantize). */
function blockInts(fmt: Fmt, w: Uint8Array, nBlocks: number): Float32Array {
  const ts = fmt.f.typeSize;
  const unit = w.slice(0, nBlocks * ts);
  for (let b = 0; b < nBlocks; b++) {
    const o = b * ts;
    if (fmt.scale === 'f16') {
      unit[o] = 0x00;
      unit[o + 1] = 0x3c; // 1.0
    } else unit[o] = 128; // 2^0
    if (fmt.minAt !== undefined) unit[o + fmt.minAt] = unit[o + fmt.minAt + 1] = 0;
  }
  const out = new Float32Array(nBlocks * 32);
  fmt.f.dequantize(unit, nBlocks, out, 0);
  return out;
}

/** A random f16 scale: mostly ~1e-2, some f16 subnormals, some large; random sign. */
function randomF16(rnd: () => number): number {
  const u = rnd();
  const d = u < 0.1 ? 3e-6 * rnd() : u < 0.15 ? 30 * rnd() : 0.02 * rnd();
  return f32ToF16Bits(rnd() < 0.5 ? d : -d);
}

function rawBlocks(typeSize: number, f16At: number[], e8m0?: (rnd: () => number) => number) {
  return (nb: number, rnd: () => number): Uint8Array => {
    const out = new Uint8Array(nb * typeSize);
    for (let i = 0; i < out.length; i++) out[i] = Math.floor(rnd() * 256);
    for (let b = 0; b < nb; b++) {
      for (const at of f16At) {
        const h = randomF16(rnd);
        out[b * typeSize + at] = h & 0xff;
        out[b * typeSize + at + 1] = h >> 8;
      }
      if (e8m0) out[b * typeSize] = e8m0(rnd);
    }
    return out;
  };
}

function viaQuantizer(f: TensorFormat) {
  return (x: Float32Array): Uint8Array => {
    const out = new Uint8Array((x.length / 32) * f.typeSize);
    f.quantize!(x, out, 0);
    return out;
  };
}

/** IQ4_NL has no simple ggml quantizer: d = −max|x|/127 signed as ggml picks it, index = the nearest grid value. */
function iq4nlFromValues(x: Float32Array): Uint8Array {
  const nb = x.length / 32;
  const out = new Uint8Array(nb * 18);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[32 * b + j]!));
    const h = f32ToF16Bits(amax / 127);
    out[18 * b] = h & 0xff;
    out[18 * b + 1] = h >> 8;
    const d = readF16(out, 18 * b);
    const nearest = (v: number) => {
      let best = 0;
      for (let i = 1; i < 16; i++) if (Math.abs(IQ4_VALUES[i]! * d - v) < Math.abs(IQ4_VALUES[best]! * d - v)) best = i;
      return best;
    };
    for (let j = 0; j < 16; j++) out[18 * b + 2 + j] = nearest(x[32 * b + j]!) | (nearest(x[32 * b + 16 + j]!) << 4);
  }
  return out;
}

/** Ordinary E8M0 exponents: scales 2^-18 .. 2^-2 (values up to 12 · scale). */
const saneE8m0 = (rnd: () => number) => 110 + Math.floor(rnd() * 17);

const FORMATS: Fmt[] = [
  { f: Q4_1, name: 'q4_1', scale: 'f16', minAt: 2, fromValues: viaQuantizer(Q4_1), raw: rawBlocks(20, [0, 2]) },
  { f: Q5_0, name: 'q5_0', scale: 'f16', fromValues: viaQuantizer(Q5_0), raw: rawBlocks(22, [0]) },
  { f: Q5_1, name: 'q5_1', scale: 'f16', minAt: 2, fromValues: viaQuantizer(Q5_1), raw: rawBlocks(24, [0, 2]) },
  { f: IQ4_NL, name: 'iq4_nl', scale: 'f16', fromValues: iq4nlFromValues, raw: rawBlocks(18, [0]) },
  { f: MXFP4, name: 'mxfp4', scale: 'e8m0', fromValues: viaQuantizer(MXFP4), raw: rawBlocks(17, [], saneE8m0) },
];

let k: CpuKernels;

/** The activation rows as ggml's dot products see them: values q·d_x, d_x per block and, for q8_1, s per block. */
interface SeenActivations {
  bytes: Uint8Array;
  values: Float64Array;
  d: Float64Array;
  s?: Float64Array;
}

function activations(fmt: Fmt, x: Float32Array): SeenActivations {
  const codec = ACTIVATION_CODECS[fmt.f.activation];
  const bytes = new Uint8Array((x.length / 32) * codec.typeSize);
  codec.quantize(x, bytes, 0);
  const values = new Float64Array(x.length);
  const s = codec.hasBlockSums ? new Float64Array(x.length / 32) : undefined;
  codec.decode(bytes, x.length, values, s);
  const d = Float64Array.from({ length: x.length / 32 }, (_, b) => readF16(bytes, b * codec.typeSize));
  return { bytes, values, d, s };
}

/** ggml's vec_dot for one weight row (ints / scales / mins of its blocks) and one activation row: value and Σ|terms|. */
function referenceDot(fmt: Fmt, ints: Float32Array, scales: Float64Array, mins: Float64Array | undefined, a: SeenActivations, row: number, nb: number) {
  let sum = 0;
  let mag = 0;
  for (let b = 0; b < nb; b++) {
    let isum = 0; // Σ v·q_x, exact
    let iabs = 0;
    for (let j = 0; j < 32; j++) {
      const q = Math.round(a.values[32 * b + j]! / a.d[b]!) || 0;
      const p = ints[(row * nb + b) * 32 + j]! * q;
      isum += p;
      iabs += Math.abs(p);
    }
    const ws = scales[row * nb + b]!;
    const scale = fmt.scale === 'e8m0' ? fr(a.d[b]! * ws) : ws * a.d[b]!; // two f16: exact in f32
    sum += scale * isum;
    mag += Math.abs(scale) * iabs;
    if (mins) {
      const ms = mins[row * nb + b]! * a.s![b]!;
      sum += ms;
      mag += Math.abs(ms);
    }
  }
  return { sum, mag };
}

interface Case {
  rows: number;
  cols: number;
  ntok: number;
  ystride?: number;
  seed: number;
  /** Raw random blocks instead of quantised values. */
  raw?: boolean;
  /** Overrides the weights. */
  weights?: Uint8Array;
  /** Activation standard deviation of token t (default 0.3 · 2^(t mod 5)). */
  xStd?: (t: number) => number;
  /** Absolute tolerance (default none): for outputs in the f32 subnormal range, where every rounding is 2^-150 absolute. */
  atol?: number;
}

/** Runs matmul_<fmt> and the reference; returns the kernel's outputs [ntok][rows] and the worst err / Σ|terms|. */
function check(fmt: Fmt, c: Case): { y: Float64Array; worst: number } {
  const rnd = seeded(c.seed);
  const nb = c.cols / 32;
  const w = c.weights ?? (c.raw ? fmt.raw(c.rows * nb, rnd) : fmt.fromValues(randn(c.rows * c.cols, rnd, 0.5)));
  const ints = blockInts(fmt, w, c.rows * nb);
  const scales = Float64Array.from({ length: c.rows * nb }, (_, b) => blockScale(fmt, w, b));
  const mins = fmt.minAt !== undefined ? Float64Array.from({ length: c.rows * nb }, (_, b) => readF16(w, b * fmt.f.typeSize + fmt.minAt!)) : undefined;
  if (fmt.f.blockMins && mins) {
    const viaFormat = new Float32Array(c.rows * nb);
    fmt.f.blockMins(w, c.rows * nb, viaFormat, 0);
    assert.deepEqual(Array.from(viaFormat), Array.from(mins), 'the test reads the mins where the format keeps them');
  }
  const ystride = c.ystride ?? c.rows;
  const acts: SeenActivations[] = [];
  for (let t = 0; t < c.ntok; t++) {
    const x = randn(c.cols, rnd, c.xStd ? c.xStd(t) : 2 ** (t % 5) * 0.3);
    if (t === 2) x.fill(0, 0, Math.min(c.cols, 32)); // an all-zero activation block
    acts.push(activations(fmt, x));
  }
  const got = runMatmul(k, { name: fmt.name, weights: w, activations: acts.map((a) => a.bytes), rows: c.rows, cols: c.cols, ystride });
  const worst = compareWithReference(got, c.rows, (t, r) => referenceDot(fmt, ints, scales, mins, acts[t]!, r, nb), {
    rtol: RTOL,
    atol: c.atol,
    what: `matmul_${fmt.name} ${c.rows}x${c.cols} ntok=${c.ntok}${c.raw ? ' raw blocks' : ''}`,
  });
  return { y: got, worst };
}

function dequantizeRow(fmt: Fmt, w: Uint8Array, n: number): Float32Array {
  k.reset();
  const wp = k.put(w);
  const yp = k.alloc((n + 8) * 4);
  k.f32(yp, n + 8).fill(7);
  k.fn(`dequantize_row_${fmt.name}`)(wp, yp, n);
  const y = k.readF32(yp, n + 8);
  assert.ok(y.subarray(n).every((v) => v === 7), `dequantize_row_${fmt.name} wrote past n`);
  return y.subarray(0, n);
}

describeCpuVariants('cpu kernels: 32-value-block formats against the float64 reference', (kernels) => (k = kernels), () => {
  for (const fmt of FORMATS) {
    it(`${fmt.name} (${fmt.f.activation} activations): ncols 32/96/160/1024, nrows 1/5/37, ntok 1..9`, () => {
      let worst = 0;
      let seed = 1;
      for (const cols of [32, 96, 160, 1024]) {
        for (const rows of [1, 5, 37]) for (let ntok = 1; ntok <= 9; ntok++) worst = Math.max(worst, check(fmt, { rows, cols, ntok, seed: seed++ }).worst);
      }
      assert.ok(worst > 0, 'every result was exact: the comparison cannot be trusted');
    });

    it(`${fmt.name}: random raw blocks (every code${fmt.scale === 'f16' ? ', f16-subnormal and large scales' : ''}${fmt.minAt ? ' and mins' : ''})`, () => {
      for (const ntok of [1, 3, 4, 6]) check(fmt, { rows: 19, cols: 288, ntok, raw: true, seed: 1000 + ntok });
    });

    it(`${fmt.name}: several row panels and column chunks, output stride wider than nrows`, () => {
      check(fmt, { rows: 150, cols: 4096, ntok: 5, ystride: 160, seed: 77, raw: true });
      check(fmt, { rows: 150, cols: 4096, ntok: 1, ystride: 160, seed: 78 });
      check(fmt, { rows: 9, cols: 8192 + 96, ntok: 6, seed: 79 }); // longer than one prefill column chunk
    });

    it(`dequantize_row_${fmt.name}: bit for bit the format's reference`, () => {
      const rnd = seeded(5);
      for (const nb of [1, 7, 10]) {
        const w = fmt.raw(nb, rnd);
        const want = new Float32Array(nb * 32);
        fmt.f.dequantize(w, nb, want, 0);
        assertSameF32Bits(dequantizeRow(fmt, w, nb * 32), want, `dequantize_row_${fmt.name} (${nb} raw blocks)`);
      }
      const w = fmt.fromValues(randn(320, rnd));
      const want = new Float32Array(320);
      fmt.f.dequantize(w, 10, want, 0);
      assertSameF32Bits(dequantizeRow(fmt, w, 320), want, `dequantize_row_${fmt.name} (quantised values)`);
    });
  }

  const mx = FORMATS.find((f) => f.name === 'mxfp4')!;
  /** MXFP4 blocks with random codes and the exponent from `e`. */
  const mxBlocks = (nb: number, rnd: () => number, e: (b: number) => number) => {
    const w = mx.raw(nb, rnd);
    for (let b = 0; b < nb; b++) w[b * 17] = e(b);
    return w;
  };

  it('dequantize_row_mxfp4: every E8M0 exponent 0..255 (subnormal scales, overflow to ±inf)', () => {
    const w = mxBlocks(256, seeded(9), (b) => b);
    const want = new Float32Array(256 * 32);
    MXFP4.dequantize(w, 256, want, 0);
    assert.ok(want.some((v) => v === Infinity) && want.some((v) => v === -Infinity), 'the large exponents overflow');
    assert.ok(want.some((v) => v !== 0 && Math.abs(v) < 2 ** -126), 'the small exponents give f32 subnormals');
    assertSameF32Bits(dequantizeRow(mx, w, 256 * 32), want, 'dequantize_row_mxfp4');
  });

  it('matmul_mxfp4: E8M0 exponents 0..3 (the block scale d_x·2^(e−128) rounds as an f32 subnormal)', () => {
    // activations of ~1e-3 make d_x ~2^-15, so d_x·2^(e−128) needs bits below 2^-149 and rounds; the
    // outputs are then f32 subnormals too, each rounding off by up to 2^-150 (the atol: 2 per block)
    const rnd = seeded(21);
    for (const ntok of [1, 5]) {
      const rows = 7;
      const cols = 320;
      const w = mxBlocks((rows * cols) / 32, rnd, () => Math.floor(rnd() * 4));
      check(mx, { rows, cols, ntok, seed: 30 + ntok, weights: w, xStd: () => 1e-3, atol: (2 * cols) / 32 * 2 ** -150 });
    }
  });

  it('matmul_mxfp4: E8M0 exponents 250..255 against f16-subnormal activation scales (finite)', () => {
    const rnd = seeded(22);
    for (const ntok of [1, 5]) {
      const w = mxBlocks((5 * 256) / 32, rnd, () => 250 + Math.floor(rnd() * 6));
      const { y } = check(mx, { rows: 5, cols: 256, ntok, seed: 40 + ntok, weights: w, xStd: () => 2e-6 });
      assert.ok(y.every((v) => Number.isFinite(v) && Math.abs(v) > 2 ** 90), 'huge but finite outputs');
    }
  });

  it('matmul_mxfp4: E8M0 exponent 255 against ordinary activations overflows to non-finite, as in ggml', () => {
    const rnd = seeded(23);
    const rows = 3;
    const cols = 64;
    for (const ntok of [1, 4]) {
      const w = mxBlocks((rows * cols) / 32, rnd, () => 255);
      const x = randn(cols, rnd);
      const a = activations(mx, x);
      k.reset();
      const wp = k.put(w);
      const xp = k.alloc(ntok * a.bytes.length);
      for (let t = 0; t < ntok; t++) k.bytes(xp + t * a.bytes.length, a.bytes.length).set(a.bytes);
      const yp = k.alloc(ntok * rows * 4);
      k.fn('matmul_mxfp4')(wp, xp, yp, rows, cols, ntok, rows);
      const y = k.readF32(yp, ntok * rows);
      const ints = blockInts(mx, w, (rows * cols) / 32);
      for (let r = 0; r < rows; r++) {
        // ggml: f32(d_x · 2^127) · Σ v·q per block: infinite when that product passes the f32 range
        let overflows = false;
        for (let b = 0; b < cols / 32; b++) {
          let isum = 0;
          for (let j = 0; j < 32; j++) isum += ints[(r * (cols / 32) + b) * 32 + j]! * Math.round(a.values[32 * b + j]! / a.d[b]!);
          if (!Number.isFinite(fr(fr(a.d[b]! * 2 ** 127) * isum))) overflows = true;
        }
        assert.ok(overflows, 'the case is built to overflow');
        for (let t = 0; t < ntok; t++) assert.ok(!Number.isFinite(y[t * rows + r]!), `row ${r} token ${t}: got ${y[t * rows + r]}, expected ±inf or NaN`);
      }
    }
  });
});
