/**
 * The activation codecs (daemon/formats/activation*.ts) on hand-computed rows: the exact bytes ggml-cpu's
 * x86 from_float writes (round half to even, Q8_1's sum s from the unrounded d, Q8_K's sign convention and
 * per-16 sums, zero blocks), and what decode hands to the dot products. The WebAssembly kernels' own
 * activation quantizers are tested against these bytes; formats-vs-ggml.test.ts checks them against ggml.
 * Also: the reference matmul's emulation driven by the format table, including Q8_1's block sums.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ACTIVATION_CODECS, activationAsSeen, activationBytes } from '../../daemon/formats/activation.js';
import { f16BitsToF32, f32ToF16Bits } from '../../daemon/formats/half.js';
import { KNOWN_FORMATS, requireFormat } from '../../daemon/formats/table.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { matmul, matmulInput } from '../../daemon/gpu/cpu-reference/reference-ops.js';
import type { RefMatrix } from '../../daemon/gpu/cpu-reference/reference-ops.js';
import { Rng } from '../../tools/modelgen/prng.js';

function encode(format: keyof typeof ACTIVATION_CODECS, x: number[]): Uint8Array {
  const src = Float32Array.from(x);
  const out = new Uint8Array(activationBytes(format, src.length));
  ACTIVATION_CODECS[format].quantize(src, out, 0);
  return out;
}

const i8 = (b: number): number => (b << 24) >> 24;
const u16 = (b: Uint8Array, at: number): number => b[at]! | (b[at + 1]! << 8);

test('q8_0: d = f16(amax/127), q = round_half_even(x·127/amax)', () => {
  // amax = 127 → d = 1, id = 1: halves go to even, both signs
  const x = [127, 2.5, 3.5, -2.5, -3.5, 0.5, 1.5, -127, ...new Array(24).fill(0)];
  const b = encode('q8_0', x);
  assert.equal(b.length, 34);
  assert.equal(u16(b, 0), 0x3c00);
  assert.deepEqual([...b.subarray(2, 10)].map(i8), [127, 2, 4, -2, -4, 0, 2, -127]);
  // amax = 1: d = f16(1/127) = 0x2008, q = round(x·127)
  const y = encode('q8_0', [1, 0.5, -0.25, ...new Array(29).fill(0)]);
  assert.equal(u16(y, 0), f32ToF16Bits(Math.fround(1 / 127)));
  assert.deepEqual([...y.subarray(2, 5)].map(i8), [127, 64 /* 63.5 → even */, -32 /* −31.75 */]);
  // a zero block: everything 0
  assert.ok(encode('q8_0', new Array(32).fill(0)).every((v) => v === 0));
});

test('q8_1: as q8_0, plus s = f16(d·Σq) with the f32 d (not the f16 one)', () => {
  const x = [1, 0.5, -0.25, 0.3, ...new Array(28).fill(0)];
  const b = encode('q8_1', x);
  assert.equal(b.length, 36);
  const d = Math.fround(1 / 127);
  const q = [127, 64, -32, 38 /* 0.3·127 = 38.1 */];
  assert.equal(u16(b, 0), f32ToF16Bits(d));
  assert.equal(u16(b, 2), f32ToF16Bits(Math.fround(d * (127 + 64 - 32 + 38))));
  assert.deepEqual([...b.subarray(4, 8)].map(i8), q);
  // the stored s differs from the sum of the dequantised values: that is why the matmul needs it
  const seen = activationAsSeen('q8_1', Float32Array.from(x));
  const sumSeen = seen.values.reduce((a, v) => a + v, 0);
  assert.equal(seen.blockSums![0], f16BitsToF32(u16(b, 2)));
  assert.notEqual(seen.blockSums![0], sumSeen);
});

test('q8_K: max (signed, first on ties) ↦ −127, f32 d = 1/iscale, bsums per 16, zero blocks', () => {
  const x = new Array(256).fill(0);
  x[5] = -2; // the first of the two largest magnitudes: max = −2, iscale = 63.5
  x[6] = 2;
  x[17] = 1; // 63.5 → 64 (half to even)
  x[18] = 0.5; // 31.75 → 32
  x[40] = -1.01; // −64.135 → −64
  const b = encode('q8_K', x);
  assert.equal(b.length, 292);
  const dv = new DataView(b.buffer);
  assert.equal(dv.getFloat32(0, true), Math.fround(1 / 63.5));
  const q = (j: number) => i8(b[4 + j]!);
  assert.deepEqual([q(5), q(6), q(17), q(18), q(40), q(0)], [-127, 127, 64, 32, -64, 0]);
  assert.deepEqual([0, 1, 2, 3].map((k) => dv.getInt16(260 + 2 * k, true)), [0, 96, -64, 0]);
  // the positive maximum first: the sign flips (max ↦ −127)
  const y = new Array(256).fill(0);
  y[0] = 4;
  y[1] = -1;
  const c = encode('q8_K', y);
  assert.equal(new DataView(c.buffer).getFloat32(0, true), Math.fround(1 / Math.fround(-127 / 4)));
  assert.deepEqual([i8(c[4]!), i8(c[5]!)], [-127, 32 /* 31.75 */]);
  // what the dot products see: exactly q·d
  const seen = activationAsSeen('q8_K', Float32Array.from(y));
  assert.equal(seen.values[0], -127 * new DataView(c.buffer).getFloat32(0, true));
  assert.equal(seen.blockSums, undefined);
  assert.ok(encode('q8_K', new Array(256).fill(0)).every((v) => v === 0));
});

test('f16 / bf16 activations round to nearest even', () => {
  const x = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, -0];
  assert.deepEqual([...new Uint16Array(encode('f16', x).buffer)], [0x3c00, 0x3c02, 0x3c04, 0x3c0c, 0x8000]);
  assert.deepEqual([...new Uint16Array(encode('bf16', x).buffer)], [0x3f80, 0x3f80, 0x3f80, 0x3f82, 0x8000]);
});

test('matmulInput follows the format table: each format\'s activation, off when the emulation is off', () => {
  const rng = new Rng(1);
  const x = Float64Array.from({ length: 256 }, () => rng.normal());
  const on = { f16Activations: true, q8Activations: true };
  for (const f of KNOWN_FORMATS) {
    const got = matmulInput(x, f.type, on).values;
    const want = f.activation === 'f32' ? x : activationAsSeen(f.activation, Float32Array.from(x)).values;
    assert.deepEqual(got, want, f.name);
    assert.equal(matmulInput(x, f.type, { f16Activations: false, q8Activations: false }).values, x, `${f.name} off`);
  }
});

test('reference matmul with Q4_1 / Q5_1 weights equals ggml\'s block formula d_w·d_x·Σq_w·q_x + m_w·s_x', () => {
  const rng = new Rng(2);
  for (const type of [GgmlType.Q4_1, GgmlType.Q5_1]) {
    const f = requireFormat(type);
    const cols = 128;
    const rows = 3;
    const w = new Float32Array(rows * cols).map(() => rng.normal() * 0.1 + 0.05);
    const bytes = new Uint8Array((rows * cols * f.typeSize) / 32);
    f.quantize!(w, bytes, 0);
    const data = new Float32Array(rows * cols);
    f.dequantize(bytes, (rows * cols) / 32, data, 0);
    const mins = new Float32Array((rows * cols) / 32);
    f.blockMins!(bytes, mins.length, mins, 0);
    const m: RefMatrix = { name: 'w', type, cols, rows, data, blockMins: mins };
    const x = Float64Array.from({ length: cols }, () => rng.normal());
    const y = matmul(m, x, 1, { f16Activations: true, q8Activations: true });
    // ggml: from the activation bytes and the weights' (d·q, m) split
    const act = new Uint8Array(activationBytes('q8_1', cols));
    ACTIVATION_CODECS.q8_1.quantize(Float32Array.from(x), act, 0);
    for (let r = 0; r < rows; r++) {
      let sum = 0;
      for (let b = 0; b < cols / 32; b++) {
        const mw = mins[r * (cols / 32) + b]!;
        const dx = f16BitsToF32(u16(act, 36 * b));
        const sx = f16BitsToF32(u16(act, 36 * b + 2));
        for (let j = 0; j < 32; j++) sum += (data[r * cols + 32 * b + j]! - mw) * i8(act[36 * b + 4 + j]!) * dx;
        sum += mw * sx;
      }
      assert.ok(Math.abs(y[r]! - sum) <= 1e-12 * Math.max(1, Math.abs(sum)), `${f.name} row ${r}: ${y[r]} vs ${sum}`);
      // without the block sums the result is measurably different
      const plain = matmul({ ...m, blockMins: undefined }, x, 1, { f16Activations: true, q8Activations: true });
      assert.ok(Math.abs(plain[r]! - sum) > 1e-9, `${f.name} row ${r}: block sums make no difference`);
    }
  }
});
