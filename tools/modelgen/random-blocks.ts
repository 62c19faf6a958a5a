/**
 * Random but valid blocks of the quantized formats the writer cannot quantize to (and of some it can),
 * for generated test models: quants are uniform random bits, and the scales are drawn so that the
 * dequantised weights have a root mean square of about `std` around a mean near 0 — the spread the
 * generator's Gaussian weights have (std = gain/√fan_in) — so activations stay O(1) through the layers.
 *
 * Each generator also exercises the layout's corners on purpose: negative f16 scales (Q5_0, IQ4_NL, Q3_K),
 * Q6_K's signed int8 scales (−128 included), IQ4_XS's and Q3_K's signed 6-bit scales, the full 6-bit
 * scale/min range of Q4_K/Q5_K, f16 subnormal super-scales (IQ4_XS and Q6_K get them at typical stds), and
 * MXFP4's E8M0 exponents (randomised rounding keeps the mean square right).
 *
 * The rms factors below are E[q²]^½ of each format's quant distribution (uniform quants), written out.
 */
import { writeF16 } from '../../daemon/formats/block-io.js';
import { IQ4_VALUES } from '../../daemon/formats/iq4_nl.js';
import { packScaleMinK4 } from '../../daemon/formats/k-scales.js';
import { packQ3kScales } from '../../daemon/formats/q3_k.js';
import { requireFormat } from '../../daemon/formats/table.js';
import { GgmlType, ggmlTypeName } from '../../daemon/gguf/ggml-types.js';
import type { Rng } from './prng.js';

/** Fills one block at dst[at ..] whose dequantised values have rms ≈ std. */
type BlockGenerator = (rng: Rng, std: number, dst: Uint8Array, at: number) => void;

const IQ4_RMS = Math.sqrt(IQ4_VALUES.reduce((a, v) => a + v * v, 0) / 16); // ≈ 67.4
const FP4_RMS = Math.sqrt(34.25); // E2M1 values doubled: mean of squares of 0,1,2,3,4,6,8,12 (and negatives)

/** Uniform in [a, b). */
function between(rng: Rng, a: number, b: number): number {
  return a + (b - a) * rng.uniform();
}

/** Uniform integer in [a, b]. */
function intIn(rng: Rng, a: number, b: number): number {
  return a + rng.int(b - a + 1);
}

function sign(rng: Rng): number {
  return rng.nextU32() & 1 ? -1 : 1;
}

function randomBytes(rng: Rng, dst: Uint8Array, from: number, to: number): void {
  for (let i = from; i < to; i++) dst[i] = rng.nextU32() & 0xff;
}

/** A block scale around `std / rms`, varied ±20% between blocks. */
function scaleFor(rng: Rng, std: number, rms: number): number {
  return (std / rms) * between(rng, 0.8, 1.2);
}

const clamp = (v: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, v));

export const RANDOM_BLOCKS: Partial<Record<GgmlType, BlockGenerator>> = {
  // x = q·d + m, q ∈ 0..15 (rms of q − 7.5: 4.61); m ≈ −7.5·d centres the block
  [GgmlType.Q4_1]: (rng, std, dst, at) => {
    const d = scaleFor(rng, std, 4.61);
    writeF16(dst, at, d);
    writeF16(dst, at + 2, -7.5 * d * between(rng, 0.9, 1.1));
    randomBytes(rng, dst, at + 4, at + 20);
  },
  // x = (q − 16)·d, q ∈ 0..31 (rms 9.25); either sign of d
  [GgmlType.Q5_0]: (rng, std, dst, at) => {
    writeF16(dst, at, sign(rng) * scaleFor(rng, std, 9.25));
    randomBytes(rng, dst, at + 2, at + 22);
  },
  // x = q·d + m, q ∈ 0..31 (rms of q − 15.5: 9.23)
  [GgmlType.Q5_1]: (rng, std, dst, at) => {
    const d = scaleFor(rng, std, 9.23);
    writeF16(dst, at, d);
    writeF16(dst, at + 2, -15.5 * d * between(rng, 0.9, 1.1));
    randomBytes(rng, dst, at + 4, at + 24);
  },
  // x = d·sc·q − dmin·m, q ∈ 0..3; dmin = 1.5·d and m ≈ sc centre each sub-block; sc ∈ 1..15
  // (rms ≈ √(1.25·E[sc²]) ≈ 10.2)
  [GgmlType.Q2_K]: (rng, std, dst, at) => {
    const d = scaleFor(rng, std, 10.2);
    for (let s = 0; s < 16; s++) {
      const sc = intIn(rng, 1, 15);
      dst[at + s] = sc | (clamp(sc + intIn(rng, -1, 1), 0, 15) << 4);
    }
    randomBytes(rng, dst, at + 16, at + 80);
    writeF16(dst, at + 80, d);
    writeF16(dst, at + 82, 1.5 * d);
  },
  // x = d·(S − 32)·q, q ∈ −4..3 (rms 2.35); S − 32 = ±(8..31) or −32 (rms ≈ 20.7); either sign of d
  [GgmlType.Q3_K]: (rng, std, dst, at) => {
    randomBytes(rng, dst, at, at + 96); // hmask and low bits
    const scales = Array.from({ length: 16 }, () => 32 + (rng.int(24) === 0 ? -32 : sign(rng) * intIn(rng, 8, 31)));
    packQ3kScales(scales, dst, at + 96);
    writeF16(dst, at + 108, sign(rng) * scaleFor(rng, std, 2.35 * 20.7));
  },
  // x = d·sc·q − dmin·m, q ∈ 0..15; sc ∈ 8..63 (all six bits vary), dmin = 8·d, m ≈ 0.94·sc centres it
  // (rms ≈ √(21.25·E[sc²]) ≈ 180)
  [GgmlType.Q4_K]: (rng, std, dst, at) => {
    const d = scaleFor(rng, std, 180);
    writeF16(dst, at, d);
    writeF16(dst, at + 2, 8 * d);
    const sc = Array.from({ length: 8 }, () => intIn(rng, 8, 63));
    const m = sc.map((v) => clamp(Math.round((7.5 / 8) * v + between(rng, -1, 1)), 0, 63));
    packScaleMinK4(sc, m, dst, at + 4);
    randomBytes(rng, dst, at + 16, at + 144);
  },
  // as Q4_K with q ∈ 0..31: dmin = 16·d, m ≈ 0.97·sc (rms ≈ √(85.25·E[sc²]) ≈ 360)
  [GgmlType.Q5_K]: (rng, std, dst, at) => {
    const d = scaleFor(rng, std, 360);
    writeF16(dst, at, d);
    writeF16(dst, at + 2, 16 * d);
    const sc = Array.from({ length: 8 }, () => intIn(rng, 8, 63));
    const m = sc.map((v) => clamp(Math.round((15.5 / 16) * v + between(rng, -1, 1)), 0, 63));
    packScaleMinK4(sc, m, dst, at + 4);
    randomBytes(rng, dst, at + 16, at + 176);
  },
  // x = d·sc·(q − 32), q ∈ 0..63 (rms 18.5); int8 sc = ±(16..127) or −128 (rms ≈ 78.5)
  [GgmlType.Q6_K]: (rng, std, dst, at) => {
    randomBytes(rng, dst, at, at + 192);
    for (let s = 0; s < 16; s++) dst[at + 192 + s] = (rng.int(32) === 0 ? -128 : sign(rng) * intIn(rng, 16, 127)) & 0xff;
    writeF16(dst, at + 208, scaleFor(rng, std, 18.5 * 78.5));
  },
  // x = d·grid[q]; either sign of d
  [GgmlType.IQ4_NL]: (rng, std, dst, at) => {
    writeF16(dst, at, sign(rng) * scaleFor(rng, std, IQ4_RMS));
    randomBytes(rng, dst, at + 2, at + 18);
  },
  // x = d·(ls − 32)·grid[q]; ls − 32 = ±(8..31) or −32 (rms ≈ 20.7) → d ≈ std/1400, an f16 subnormal
  // (< 6.1e-5) for std below ~0.085
  [GgmlType.IQ4_XS]: (rng, std, dst, at) => {
    writeF16(dst, at, scaleFor(rng, std, IQ4_RMS * 20.7));
    let scalesH = 0;
    dst.fill(0, at + 4, at + 8);
    for (let s = 0; s < 8; s++) {
      const ls = 32 + (rng.int(24) === 0 ? -32 : sign(rng) * intIn(rng, 8, 31));
      dst[at + 4 + (s >>> 1)]! |= (ls & 0x0f) << (4 * (s & 1));
      scalesH |= (ls >>> 4) << (2 * s);
    }
    dst[at + 2] = scalesH & 0xff;
    dst[at + 3] = scalesH >>> 8;
    randomBytes(rng, dst, at + 8, at + 136);
  },
  // x = fp4[q]·2^(e−128): e = 128 + log2(std/rms), rounded up or down at random in proportion
  [GgmlType.MXFP4]: (rng, std, dst, at) => {
    const l = Math.log2(std / FP4_RMS);
    // E[4^(e−128)] = (std/rms)² when e rounds up with probability (2^(2·frac) − 1)/3
    const frac = l - Math.floor(l);
    const up = rng.uniform() < (4 ** frac - 1) / 3;
    dst[at] = clamp(128 + Math.floor(l) + (up ? 1 : 0), 0, 255);
    randomBytes(rng, dst, at + 1, at + 17);
  },
};

/** Types the generator writes as random blocks (the others are quantized from Gaussian f32 weights). */
export const RANDOM_BLOCK_TYPES: readonly GgmlType[] = Object.keys(RANDOM_BLOCKS).map(Number);

/** `n` values of `type` as random blocks with rms ≈ std (n a whole number of blocks). */
export function randomBlocks(type: GgmlType, n: number, std: number, rng: Rng): Uint8Array {
  const gen = RANDOM_BLOCKS[type];
  if (!gen) throw new Error(`no random block generator for ${ggmlTypeName(type)}`);
  const f = requireFormat(type);
  if (n % f.blockSize) throw new Error(`${n} values is not a whole number of ${f.name} blocks of ${f.blockSize}`);
  const out = new Uint8Array((n / f.blockSize) * f.typeSize);
  for (let at = 0; at < out.length; at += f.typeSize) gen(rng, std, out, at);
  return out;
}
