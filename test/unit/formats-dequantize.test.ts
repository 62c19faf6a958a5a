/**
 * Each new format's reference dequantisation (daemon/formats) on hand-built blocks: bytes placed by hand
 * from the layout in ggml-common.h / dequantize_row_* (independently of the code under test), values
 * computed by hand. Covers f16 subnormal scales, negative and −128 Q6_K scales, signed 6-bit scales,
 * the packed 6-bit K-quant scales/mins, and E8M0 extremes. (Bit-exactness against ggml's own compiled
 * code on random blocks: formats-vs-ggml.test.ts.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { requireFormat } from '../../daemon/formats/table.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';

const H = { one: 0x3c00, half: 0x3800, quarter: 0x3400, two: 0x4000, minusTwo: 0xc000, minusQuarter: 0xb400, sub1: 0x0001 } as const;
const SUB = 2 ** -24; // the smallest f16 subnormal

/** A zeroed block of `type` with the given bytes set (u16 fields little endian). */
function block(type: GgmlType, bytes: Record<number, number>, u16: Record<number, number> = {}): Uint8Array {
  const b = new Uint8Array(requireFormat(type).typeSize);
  for (const [at, v] of Object.entries(bytes)) b[Number(at)] = v;
  for (const [at, v] of Object.entries(u16)) {
    b[Number(at)] = v & 0xff;
    b[Number(at) + 1] = v >>> 8;
  }
  return b;
}

function dequant(type: GgmlType, b: Uint8Array): Float32Array {
  const f = requireFormat(type);
  const out = new Float32Array(f.blockSize * (b.length / f.typeSize));
  f.dequantize(b, b.length / f.typeSize, out, 0);
  return out;
}

function expectValues(type: GgmlType, b: Uint8Array, want: Record<number, number>): void {
  const y = dequant(type, b);
  for (const [i, v] of Object.entries(want)) assert.equal(y[Number(i)], v, `${requireFormat(type).name} value ${i}`);
}

test('Q4_1: x = q·d + m, low nibbles first; blockMins gives m', () => {
  const b = block(GgmlType.Q4_1, { 4: 0x3a, 19: 0xf0 }, { 0: H.half, 2: 0xbc00 /* −1 */ });
  expectValues(GgmlType.Q4_1, b, { 0: 10 * 0.5 - 1, 16: 3 * 0.5 - 1, 15: -1, 31: 15 * 0.5 - 1, 1: -1 });
  const mins = new Float32Array(1);
  requireFormat(GgmlType.Q4_1).blockMins!(b, 1, mins, 0);
  assert.equal(mins[0], -1);
});

test('Q5_0: 5th bits from qh (bit j ↔ value j), x = (q − 16)·d with a negative d', () => {
  // qh = 0x00000001: value 0 has its 5th bit; value 16 (bit 16) does not
  const b = block(GgmlType.Q5_0, { 2: 0x01, 6: 0x21 }, { 0: H.minusQuarter });
  expectValues(GgmlType.Q5_0, b, { 0: (17 - 16) * -0.25, 16: (2 - 16) * -0.25, 1: (0 - 16) * -0.25 });
  // bit 31 of qh → value 31's 5th bit
  const c = block(GgmlType.Q5_0, { 5: 0x80, 21: 0xf0 }, { 0: H.one });
  expectValues(GgmlType.Q5_0, c, { 31: 31 - 16, 15: -16 });
});

test('Q5_1: subnormal f16 d, min added; blockMins gives m', () => {
  // d = 2^−24 (f16 0x0001), m = 0.25; value 3: low nibble 0xF of qs[3] + bit 3 of qh → q = 31
  const b = block(GgmlType.Q5_1, { 4: 0x08, [8 + 3]: 0x0f }, { 0: H.sub1, 2: H.quarter });
  expectValues(GgmlType.Q5_1, b, { 3: Math.fround(31 * SUB + 0.25), 0: 0.25, 19: 0.25 });
  const mins = new Float32Array(1);
  requireFormat(GgmlType.Q5_1).blockMins!(b, 1, mins, 0);
  assert.equal(mins[0], 0.25);
});

test('Q2_K: 4-bit scale/min nibbles per 16, 2-bit quants at bits 2j of byte 32h + l', () => {
  const b = block(
    GgmlType.Q2_K,
    {
      0: 0x23, // sub-block 0: sc 3, m 2
      5: 0xf1, // sub-block 5: sc 1, m 15
      6: 0x04, // sub-block 6: sc 4, m 0
      8: 0x15, // sub-block 8: sc 5, m 1
      16: 0xe4, // byte l = 0 of half 0: q = 0 (value 0), 1 (value 32), 2 (value 64), 3 (value 96)
      32: 0x30, // byte l = 16 of half 0: bits 4–5 → value 80 (j = 2, sub-block 5): q = 3
      48: 0x02, // byte l = 0 of half 1: value 128 (sub-block 8): q = 2
    },
    { 80: H.one, 82: H.half },
  );
  expectValues(GgmlType.Q2_K, b, { 0: 3 * 0 - 0.5 * 2, 1: -1, 32: 0, 96: 4 * 3, 80: 1 * 3 - 0.5 * 15, 81: -7.5, 128: 5 * 2 - 0.5 * 1, 255: 0 });
});

test('Q3_K: hmask high bits, 2-bit low bits, signed 6-bit scales packed in 12 bytes', () => {
  const b = block(
    GgmlType.Q3_K,
    {
      0: 0x01, // hmask byte 0, bit 0: value 0's high bit set
      32: 0x03, // qs byte 0: value 0 low bits = 3
      80: 0x10, // qs byte 32 + 32·1 + 16: bits 4–5 → value 208 (h 1, j 2, l 16): low bits 1
      96: 0x01, // scale 0 low nibble 1
      104: 0x02, // scale 0 high bits (byte 8, bits 0–1) = 2 → S = 33 → +1
      101: 0x70, // scale 13: high nibble of byte 5 = 7, high bits (byte 9, bits 6–7) = 0 → S = 7 → −25
    },
    { 108: H.half },
  );
  // value 0: q = 3 − 0; value 1: low 0, high bit clear → −4; value 208: 1 − 4 = −3 (hmask[16] bit 6 clear)
  expectValues(GgmlType.Q3_K, b, { 0: 0.5 * 1 * 3, 1: 0.5 * 1 * -4, 208: 0.5 * -25 * -3, 16: 0.5 * -32 * -4 });
});

test('Q4_K: packed 6-bit scales and mins (sub-blocks 0–3 direct, 4–7 split), nibble order per 64', () => {
  const b = block(
    GgmlType.Q4_K,
    {
      4: 0x05, // sc[0] = 5
      8: 0x03, // m[0] = 3
      5: 0xc0, // sc[1] = 0; its top bits (3) are sc[5]'s high bits
      9: 0x40, // m[1] = 0; top bits (1) are m[5]'s high bits
      13: 0xa3, // sc[5] low nibble 3, m[5] low nibble 10 → sc[5] = 3 | 3<<4 = 51, m[5] = 10 | 1<<4 = 26
      16: 0x09, // value 0 (low nibble), value 32 (high nibble) = 0
      80: 0x70, // chunk 2, l 0: value 128 (low, sub-block 4) = 0, value 160 (high, sub-block 5) = 7
    },
    { 0: H.one, 2: H.quarter },
  );
  expectValues(GgmlType.Q4_K, b, { 0: 5 * 9 - 0.25 * 3, 1: -0.75, 32: 0, 128: 0, 160: 51 * 7 - 0.25 * 26, 161: -6.5 });
});

test('Q5_K: as Q4_K plus the 5th bit (bit s of qh[l] for sub-block s)', () => {
  const b = block(
    GgmlType.Q5_K,
    { 4: 0x05, 8: 0x03, 5: 0xc0, 9: 0x40, 13: 0xa3, 16: 0x21 /* qh[0]: bits 0 and 5 */, 48: 0x09, 112: 0x70 },
    { 0: H.one, 2: H.quarter },
  );
  expectValues(GgmlType.Q5_K, b, { 0: 5 * (9 + 16) - 0.75, 1: -0.75, 160: 51 * (7 + 16) - 6.5, 161: 51 * 0 - 6.5 });
});

test('Q6_K: signed int8 scales (−128 included), 4+2-bit quants minus 32', () => {
  const b = block(
    GgmlType.Q6_K,
    {
      0: 0x0f, // ql[0] low nibble → value 0
      128: 0x03, // qh[0] bits 0–1 → value 0 high bits 3: q = 15 | 48 = 63 → +31
      192: 0x80, // scale 0 = −128
      194: 100, // scale 2 = 100 (values 32..47)
      127: 0x50, // ql[127] high nibble 5 → value 255 (h 1, l 31, fourth quarter)
      191: 0x40, // qh[32 + 31] bits 6–7 = 1 → q = 5 | 16 = 21 → −11
      207: 0xfd, // scale 15 = −3
    },
    { 208: H.half },
  );
  expectValues(GgmlType.Q6_K, b, { 0: 0.5 * -128 * 31, 32: 0.5 * 100 * -32, 255: 0.5 * -3 * -11, 1: 0.5 * -128 * -32 });
  // a subnormal super-scale: d = 2^−24
  const s = block(GgmlType.Q6_K, { 0: 0x0f, 128: 0x03, 192: 127 }, { 208: H.sub1 });
  expectValues(GgmlType.Q6_K, s, { 0: 127 * 31 * SUB });
});

test('IQ4_NL: the non-linear grid, negative d', () => {
  const b = block(GgmlType.IQ4_NL, { 2: 0xf0, 17: 0x78 }, { 0: H.minusTwo });
  expectValues(GgmlType.IQ4_NL, b, { 0: -2 * -127, 16: -2 * 113, 15: -2 * 1, 31: -2 * -10 });
});

test('IQ4_XS: subnormal d, 6-bit scales from scales_l nibbles and scales_h bit pairs', () => {
  // sub-block 0: ls = 0xF | 0b11 << 4 = 63 → +31; sub-block 7: ls = 0 → −32; sub-block 1: ls = 0x2 | 0b10 << 4 = 34 → +2
  const b = block(GgmlType.IQ4_XS, { 4: 0x2f, [8 + 112]: 0xf0, [8 + 16]: 0x0f }, { 0: H.sub1, 2: 0x0003 | (0b10 << 2) });
  expectValues(GgmlType.IQ4_XS, b, {
    0: 31 * -127 * SUB, // qs nibble 0
    240: -32 * 113 * SUB, // sub-block 7, j 0, high nibble 15
    224: -32 * -127 * SUB,
    32: 2 * 113 * SUB, // sub-block 1, j 0, low nibble 15
  });
});

test('MXFP4: E8M0 scale 2^(e−128) including e = 0 (f32 subnormal), 128 (1) and 255 (overflow to ∞)', () => {
  const codes = { 1: 0x71, 2: 0x9f }; // value 0: code 1, value 16: code 7 (12); value 1: code 15 (−12), value 17: code 9 (−1)
  expectValues(GgmlType.MXFP4, block(GgmlType.MXFP4, { 0: 128, ...codes }), { 0: 1, 16: 12, 1: -12, 17: -1, 2: 0 });
  expectValues(GgmlType.MXFP4, block(GgmlType.MXFP4, { 0: 0, ...codes }), { 0: 2 ** -128, 16: 12 * 2 ** -128, 17: -(2 ** -128) });
  expectValues(GgmlType.MXFP4, block(GgmlType.MXFP4, { 0: 255, ...codes }), { 0: 2 ** 127, 16: Infinity, 1: -Infinity, 17: -(2 ** 127) });
  expectValues(GgmlType.MXFP4, block(GgmlType.MXFP4, { 0: 1, ...codes }), { 0: 2 ** -127 });
});

test('BF16: the high half of an f32', () => {
  const b = new Uint8Array([0x80, 0x3f, 0x49, 0x40, 0x80, 0xff, 0x01, 0x00]);
  const y = dequant(GgmlType.BF16, b);
  assert.deepEqual([...y], [1, 3.140625, -Infinity, 2 ** -133]);
});

test('dequantisation fills the destination at an offset and leaves the rest alone', () => {
  for (const type of [GgmlType.Q4_K, GgmlType.IQ4_XS, GgmlType.Q5_1, GgmlType.MXFP4]) {
    const f = requireFormat(type);
    const bytes = new Uint8Array(2 * f.typeSize).fill(0x11);
    const out = new Float32Array(2 * f.blockSize + 3).fill(7);
    f.dequantize(bytes, 2, out, 2);
    assert.equal(out[0], 7);
    assert.equal(out[1], 7);
    assert.equal(out[2 * f.blockSize + 2], 7);
    assert.ok(out.subarray(2, 2 + 2 * f.blockSize).every((v) => v !== 7), `${f.name} wrote every value`);
  }
});
