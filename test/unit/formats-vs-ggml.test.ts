/**
 * The format reference code (daemon/formats) bit for bit against llama.cpp's own compiled ggml — the
 * libraries node-llama-cpp ships, i.e. the build the conformance tests compare against — through the
 * ggml-oracle bridge (test/helpers/ggml-native.ts):
 *  - TensorFormat.activation = ggml-cpu's vec_dot_type, for every known format;
 *  - dequantize = dequantize_row_* on random bytes (every bit pattern, NaN/∞/subnormal scales included)
 *    and on the model generator's random blocks;
 *  - quantize = ggml_quantize_chunk (quantize_row_*_ref) on Gaussian rows of several scales, exact ties,
 *    zero blocks and MXFP4 maxima next to powers of two;
 *  - the activation codecs' quantize = ggml-cpu's from_float (what the CPU backend runs on this machine)
 *    for f16, bf16, q8_0, q8_1, q8_K, on rows with round-half ties, zero blocks, ±max ties and subnormals;
 *  - the repacked matmuls' activation quantizers (ggml_quantize_mat_q8_0_4x8 for Q4_0 / IQ4_NL / MXFP4,
 *    _q8_K_4x8 for Q4_K / Q2_K, which llama.cpp uses on AVX2 machines) give the codecs' d and q.
 * Skips with the reason when the bridge cannot be built (no C compiler, not linux-x64).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIVATION_CODECS, activationBytes } from '../../daemon/formats/activation.js';
import type { ActivationFormat } from '../../daemon/formats/format.js';
import { KNOWN_FORMATS } from '../../daemon/formats/table.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { Rng } from '../../tools/modelgen/prng.js';
import { RANDOM_BLOCK_TYPES, randomBlocks } from '../../tools/modelgen/random-blocks.js';
import { loadGgmlNative } from '../helpers/ggml-native.js';

const ggml = loadGgmlNative();
const skip = typeof ggml === 'string' ? ggml : false;
const native = () => {
  if (typeof ggml === 'string') throw new Error(ggml);
  return ggml;
};

const ACTIVATION_TYPE: Record<ActivationFormat, GgmlType> = {
  f32: GgmlType.F32,
  f16: GgmlType.F16,
  bf16: GgmlType.BF16,
  q8_0: GgmlType.Q8_0,
  q8_1: GgmlType.Q8_1,
  q8_K: GgmlType.Q8_K,
};

/** Index of the first differing byte, or -1. */
function firstByteDiff(a: Uint8Array, b: Uint8Array): number {
  if (a.length !== b.length) return Math.min(a.length, b.length);
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

/** f32 values equal bit for bit (NaNs equal to NaNs). */
function sameFloats(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: lengths`);
  for (let i = 0; i < a.length; i++) {
    if (Number.isNaN(a[i]) && Number.isNaN(b[i])) continue;
    if (!Object.is(a[i], b[i])) assert.fail(`${what}: value ${i} is ${a[i]}, ggml has ${b[i]}`);
  }
}

function gaussianRows(rng: Rng, n: number, scales: number[]): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) x[i] = rng.normal() * scales[Math.floor(i / 256) % scales.length]!;
  return x;
}

/** Rows exercising the quantizers' corners, 256-value blocks (a multiple of every block size). */
function edgeRows(rng: Rng): Float32Array {
  const x = gaussianRows(rng, 256 * 24, [1, 1e-3, 30, 1e-6, 0.02, 4]);
  const block = (b: number) => x.subarray(256 * b, 256 * (b + 1));
  block(0).fill(0); // all zero
  block(1).forEach((_, i, a) => (a[i] = (i % 64) - 32 + (i % 2 ? 0.5 : 0))); // many exact halves
  block(2).forEach((_, i, a) => (a[i] = ((i % 17) - 8) * 0.25)); // ties at 0.5 steps after scaling
  const b3 = block(3);
  b3[7] = -5; // ±max ties: q8_K picks the first (−5), Q4_0/Q5_0 the first largest magnitude
  b3[200] = 5;
  const b4 = block(4);
  for (let i = 0; i < 256; i += 32) b4[i] = 4 * (1 - 2 ** -24); // MXFP4: amax just below a power of two
  const b5 = block(5);
  for (let i = 0; i < 256; i += 32) b5[i] = 2; // amax exactly a power of two
  block(6).forEach((_, i, a) => (a[i] = (i - 128) * 2 ** -140)); // f32 subnormals
  block(7).fill(3.25); // constant blocks: max = min for Q4_1 / Q5_1 (d = 0)
  block(8).forEach((_, i, a) => (a[i] = (i % 2 ? 1 : -1) * (i + 1) * 2 ** -140)); // subnormals of both signs: 1/d overflows
  block(9).forEach((_, i, a) => (a[i] = (i % 3) - 1)); // only −1, 0, 1
  return x;
}

test('TensorFormat.activation is ggml-cpu\'s vec_dot_type for every known format', { skip }, () => {
  for (const f of KNOWN_FORMATS) assert.equal(native().vecDotType(f.type), ACTIVATION_TYPE[f.activation], `${f.name}: ggml-cpu (${native().cpuVariant}) says vec_dot_type ${native().vecDotType(f.type)}`);
});

test('dequantize = ggml dequantize_row_* on random bytes (all bit patterns)', { skip }, () => {
  const rng = new Rng(42);
  for (const f of KNOWN_FORMATS.filter((x) => x.type !== GgmlType.F32)) {
    const nb = Math.max(8, Math.ceil(4096 / f.blockSize));
    const bytes = new Uint8Array(nb * f.typeSize);
    for (let i = 0; i < bytes.length; i++) bytes[i] = rng.nextU32() & 0xff;
    const ours = new Float32Array(nb * f.blockSize);
    f.dequantize(bytes, nb, ours, 0);
    sameFloats(ours, native().toFloat(f.type, bytes, ours.length), f.name);
  }
});

test('dequantize = ggml dequantize_row_* on the generator\'s random blocks (subnormal f16 scales, signed scales, E8M0)', { skip }, () => {
  for (const type of RANDOM_BLOCK_TYPES) {
    for (const std of [0.5, 0.05, 0.002]) {
      const n = 256 * 64;
      const bytes = randomBlocks(type, n, std, new Rng(7));
      const f = KNOWN_FORMATS.find((x) => x.type === type)!;
      const ours = new Float32Array(n);
      f.dequantize(bytes, n / f.blockSize, ours, 0);
      sameFloats(ours, native().toFloat(type, bytes, n), `${f.name} std ${std}`);
    }
  }
});

test('quantize = ggml_quantize_chunk (quantize_row_*_ref) for every format with a reference quantizer', { skip }, () => {
  const x = edgeRows(new Rng(3));
  const quantizable = KNOWN_FORMATS.filter((f) => f.quantize);
  assert.ok(['Q4_1', 'Q5_0', 'Q5_1', 'BF16', 'MXFP4'].every((n) => quantizable.some((f) => f.name === n)), 'the new simple formats have quantizers');
  for (const f of quantizable) {
    const ours = new Uint8Array((x.length / f.blockSize) * f.typeSize);
    f.quantize!(x, ours, 0);
    const ref = native().quantize(f.type, x, x.length / 256, 256);
    assert.equal(firstByteDiff(ours, ref), -1, `${f.name}: first differing byte ${firstByteDiff(ours, ref)}`);
  }
});

test('activation codecs = ggml-cpu from_float (f16, bf16, q8_0, q8_1, q8_K) bit for bit', { skip }, () => {
  const x = edgeRows(new Rng(11));
  for (const format of ['f16', 'bf16', 'q8_0', 'q8_1', 'q8_K'] as const) {
    const ours = new Uint8Array(activationBytes(format, x.length));
    ACTIVATION_CODECS[format].quantize(x, ours, 0);
    const ref = native().fromFloat(ACTIVATION_TYPE[format], x);
    assert.equal(firstByteDiff(ours, ref), -1, `${format} (${native().cpuVariant}): first differing byte ${firstByteDiff(ours, ref)}`);
  }
});

test('the repacked matmuls\' activation quantizers (ggml_quantize_mat_*_4x8) give the q8_0 / q8_K codecs\' d and q', { skip }, () => {
  const k = 256 * 4;
  const x = gaussianRows(new Rng(5), 4 * k, [1, 0.01, 7]); // no ±amax ties (where q8_K's two versions may differ)
  for (const format of ['q8_0', 'q8_K'] as const) {
    const mat = native().quantizeMat4x8(format, x, k);
    const bs = format === 'q8_K' ? 256 : 32;
    const dBytes = format === 'q8_K' ? 4 : 2;
    const blockBytes = format === 'q8_K' ? 4 * 4 + 4 * 256 + 64 * 2 : 4 * 2 + 4 * 32; // d[4], qs[4·bs] interleaved by 8, (bsums)
    const rowBlock = ACTIVATION_CODECS[format].typeSize;
    for (let r = 0; r < 4; r++) {
      const row = new Uint8Array(activationBytes(format, k));
      ACTIVATION_CODECS[format].quantize(x.subarray(r * k, (r + 1) * k), row, 0);
      for (let b = 0; b < k / bs; b++) {
        const at = b * blockBytes;
        assert.deepEqual(mat.subarray(at + dBytes * r, at + dBytes * (r + 1)), row.subarray(b * rowBlock, b * rowBlock + dBytes), `${format} row ${r} block ${b}: d`);
        for (let j = 0; j < bs; j++) {
          const q = at + 4 * dBytes + 32 * (j >>> 3) + 8 * r + (j & 7); // chunks of 8 values, the 4 rows interleaved
          assert.equal(mat[q], row[b * rowBlock + dBytes + j], `${format} row ${r} block ${b}: q[${j}]`);
        }
      }
    }
  }
});
