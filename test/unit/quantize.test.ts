import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import { dequantizeRow, f16BitsToF32, f32ToF16Bits, quantizeRow, quantizedSize } from '../../daemon/gguf/quantize.js';

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}
function gaussian(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

test('f32ToF16Bits: exact values, round-to-nearest-even, subnormals, overflow, specials', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff], // largest finite half
    [65519.99, 0x7bff], // just below the halfway point to 65536
    [65520, 0x7c00], // halfway between 65504 and 65536 → ties to even → inf
    [1e10, 0x7c00],
    [-Infinity, 0xfc00],
    [1 + 2 ** -11, 0x3c00], // halfway between 1 and 1+2^-10: ties to even (mantissa 0)
    [1 + 3 * 2 ** -11, 0x3c02], // halfway between 0x3c01 and 0x3c02: ties to even (0x3c02)
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // just above halfway rounds up
    [2 ** -14, 0x0400], // smallest normal
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -25, 0x0000], // halfway between 0 and 2^-24 → even (0)
    [3 * 2 ** -26, 0x0001], // above halfway
    [3 * 2 ** -25, 0x0002], // halfway between 1 and 2 subnormal units → even (2)
    [2 ** -14 - 2 ** -25, 0x0400], // rounds up from the largest subnormal into the smallest normal
  ];
  for (const [v, bits] of cases) assert.equal(f32ToF16Bits(v), bits, `f32ToF16Bits(${v})`);
  assert.equal(f32ToF16Bits(NaN) & 0x7fff, 0x7e00);
});

test('f16BitsToF32 decodes normals, subnormals and specials exactly', () => {
  assert.equal(f16BitsToF32(0x3c00), 1);
  assert.equal(f16BitsToF32(0x3555), 0.333251953125);
  assert.equal(f16BitsToF32(0x7bff), 65504);
  assert.equal(f16BitsToF32(0x0001), 2 ** -24);
  assert.equal(f16BitsToF32(0x03ff), 1023 * 2 ** -24);
  assert.equal(f16BitsToF32(0xfc00), -Infinity);
  assert.ok(Number.isNaN(f16BitsToF32(0x7e00)));
  assert.ok(Object.is(f16BitsToF32(0x8000), -0));
  // every finite half survives a round trip through f32
  for (let h = 0; h < 0x10000; h++) {
    if ((h & 0x7c00) === 0x7c00) continue;
    assert.equal(f32ToF16Bits(f16BitsToF32(h)), h, `half 0x${h.toString(16)}`);
  }
});

test('F16 rows: layout is little-endian half bits; round trip relative error ≤ 2^-11', () => {
  const bytes = quantizeRow(GgmlType.F16, new Float32Array([1, -2, 0.5]));
  assert.deepEqual([...bytes], [0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38]);
  const rnd = seeded(1);
  const x = new Float32Array(4096).map(() => gaussian(rnd) * 10);
  const y = dequantizeRow(GgmlType.F16, quantizeRow(GgmlType.F16, x), x.length);
  for (let i = 0; i < x.length; i++) {
    if (Math.abs(x[i]!) < 2 ** -14) continue;
    assert.ok(Math.abs(y[i]! - x[i]!) <= Math.abs(x[i]!) * 2 ** -11, `element ${i}: ${x[i]} → ${y[i]}`);
  }
});

test('Q8_0: d = amax/127 as f16, q = roundf (half away from zero), hand-computed block', () => {
  // amax = 127 → d = 1 exactly, so q = roundf(x)
  const x = new Float32Array(32);
  x.set([0.5, -0.5, 1.5, 2.5, -2.5, 127, -3.49, 3.5, -100.2]);
  const b = quantizeRow(GgmlType.Q8_0, x);
  assert.equal(b.length, 34);
  assert.deepEqual([b[0], b[1]], [0x00, 0x3c], 'd = 1.0 as f16');
  const q = new Int8Array(b.buffer, 2, 32);
  assert.deepEqual([...q.subarray(0, 9)], [1, -1, 2, 3, -3, 127, -3, 4, -100]);
  assert.deepEqual([...q.subarray(9)], new Array(23).fill(0));
  const y = dequantizeRow(GgmlType.Q8_0, b, 32);
  assert.deepEqual([...y.subarray(0, 9)], [1, -1, 2, 3, -3, 127, -3, 4, -100]);
});

test('Q8_0: all-zero block gives d = 0 and zeros', () => {
  const b = quantizeRow(GgmlType.Q8_0, new Float32Array(64));
  assert.equal(b.length, 68);
  assert.ok(b.every((v) => v === 0));
  assert.deepEqual([...dequantizeRow(GgmlType.Q8_0, b, 64)], new Array(64).fill(0));
});

test('Q4_0: signed max, d = max/-8, nibble layout j | (j+16) << 4, hand-computed block', () => {
  // max by |x| is -16 (negative) → d = 2, id = 0.5; q = min(15, trunc(x*0.5 + 8.5))
  const x = new Float32Array(32);
  x[0] = -16; // -8 + 8.5 = 0.5 → 0
  x[1] = 14; // 7 + 8.5 → 15
  x[2] = 15; // 7.5 + 8.5 = 16 → clamped 15
  x[3] = 1; // 0.5 + 8.5 = 9
  x[4] = -1; // -0.5 + 8.5 = 8
  x[5] = 3; // 10
  x[16] = -3; // -1.5 + 8.5 = 7 (high nibble of byte 0)
  x[17] = 16; // 8 + 8.5 → 16 → 15 (high nibble of byte 1)
  x[31] = -15.9; // -7.95 + 8.5 = 0.55 → 0 (high nibble of byte 15)
  const b = quantizeRow(GgmlType.Q4_0, x);
  assert.equal(b.length, 18);
  assert.deepEqual([b[0], b[1]], [0x00, 0x40], 'd = 2.0 as f16');
  const lo = [0, 15, 15, 9, 8, 10, ...new Array(10).fill(8)];
  const hi = [7, 15, ...new Array(13).fill(8), 0];
  for (let j = 0; j < 16; j++) assert.equal(b[2 + j], lo[j]! | (hi[j]! << 4), `byte ${j}`);
  const y = dequantizeRow(GgmlType.Q4_0, b, 32);
  assert.equal(y[0], -16);
  assert.equal(y[1], 14);
  assert.equal(y[2], 14);
  assert.equal(y[3], 2);
  assert.equal(y[4], 0);
  assert.equal(y[16], -2);
  assert.equal(y[17], 14);
  assert.equal(y[31], -16);

  // positive max → negative d
  const x2 = new Float32Array(32);
  x2[0] = 16;
  x2[1] = -14;
  const b2 = quantizeRow(GgmlType.Q4_0, x2);
  assert.deepEqual([b2[0], b2[1]], [0x00, 0xc0], 'd = -2.0 as f16');
  assert.equal(b2[2]! & 0xf, 0);
  assert.equal(b2[3]! & 0xf, 15);
});

test('Q8_0 / Q4_0 round-trip error bounds on random rows', () => {
  const rnd = seeded(7);
  const n = 32 * 256;
  const x = new Float32Array(n).map(() => gaussian(rnd) * (rnd() < 0.1 ? 100 : 1));
  const y8 = dequantizeRow(GgmlType.Q8_0, quantizeRow(GgmlType.Q8_0, x), n);
  const y4 = dequantizeRow(GgmlType.Q4_0, quantizeRow(GgmlType.Q4_0, x), n);
  for (let blk = 0; blk < n / 32; blk++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[blk * 32 + j]!));
    const d8 = amax / 127;
    const d4 = amax / 8;
    for (let j = 0; j < 32; j++) {
      const i = blk * 32 + j;
      // half a step plus the f16 rounding of d scaled by |q| ≤ 127
      assert.ok(Math.abs(y8[i]! - x[i]!) <= d8 * (0.5 + 127 * 2 ** -11) * 1.0001, `Q8_0 element ${i}`);
      // half a step, except +8 steps clamp to 7 (error one step), plus f16 rounding of d scaled by 8
      assert.ok(Math.abs(y4[i]! - x[i]!) <= d4 * (1 + 8 * 2 ** -11) * 1.0001, `Q4_0 element ${i}`);
    }
  }
});

test('quantizer rejects partial blocks and unsupported types with GgufError', () => {
  assert.throws(() => quantizeRow(GgmlType.Q8_0, new Float32Array(31)), (e: unknown) => e instanceof GgufError && e.code === 'BAD_ARGUMENT' && /31 elements/.test(e.message));
  assert.throws(() => quantizeRow(GgmlType.Q4_K, new Float32Array(256)), (e: unknown) => e instanceof GgufError && e.code === 'UNSUPPORTED_TYPE' && /Q4_K/.test(e.message));
  assert.throws(() => dequantizeRow(GgmlType.Q4_0, new Uint8Array(17), 32), (e: unknown) => e instanceof GgufError && e.code === 'BAD_ARGUMENT');
  assert.equal(quantizedSize(GgmlType.Q4_0, 64), 36);
  assert.equal(quantizedSize(GgmlType.Q8_0, 64), 68);
  assert.equal(quantizedSize(GgmlType.F16, 3), 6);
});
