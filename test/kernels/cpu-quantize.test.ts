/**
 * The CPU kernels' activation converters (quantize_row_q8_0 / q8_1 / q8_K, convert_row_f16 / bf16 in
 * dist/moecode-cpu.wasm) against ggml-cpu's x86 conversions (cpu-activation-refs.ts), byte for byte:
 * random rows at several magnitudes plus the edge cases — all-zero blocks, exact rounding ties, +amax
 * and −amax in one block, scales that are f16 subnormals or overflow to inf, f16/bf16 boundaries, ±0,
 * ±inf and NaN for the float conversions; and the f16 → f32 widening on every half.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { f16BitsToF32 } from '../../daemon/formats/half.js';
import { type ActivationKind, activationRowBytes, quantizeActivationRef } from './cpu-activation-refs.js';
import { type CpuKernels, describeCpuVariants } from './cpu-wasm.js';
import { randn, seeded } from './kernel-test-utils.js';

let k: CpuKernels;

const FN: Record<Exclude<ActivationKind, 'f32'>, string> = {
  q8_0: 'quantize_row_q8_0',
  q8_1: 'quantize_row_q8_1',
  q8_K: 'quantize_row_q8_K',
  f16: 'convert_row_f16',
  bf16: 'convert_row_bf16',
};

function run(kind: Exclude<ActivationKind, 'f32'>, x: Float32Array): Uint8Array {
  k.reset();
  const xp = k.put(x);
  const n = activationRowBytes(kind, x.length);
  const yp = k.alloc(n + 64);
  k.bytes(yp, n + 64).fill(0xa5); // a guard after the row: must stay untouched
  k.fn(FN[kind])(xp, yp, x.length);
  const guard = k.readBytes(yp + n, 64);
  assert.ok(guard.every((b) => b === 0xa5), `${FN[kind]} wrote past its ${n} output bytes`);
  return k.readBytes(yp, n);
}

function assertSameBytes(kind: ActivationKind, x: Float32Array, what: string): void {
  const got = run(kind as Exclude<ActivationKind, 'f32'>, x);
  const want = quantizeActivationRef(kind, x);
  const i = got.findIndex((b, j) => b !== want[j]);
  if (i >= 0) assert.fail(`${FN[kind as Exclude<ActivationKind, 'f32'>]} ${what}: byte ${i} of ${want.length} is ${got[i]}, ggml gives ${want[i]}`);
}

/** Rows of n values: normal at several scales, one all-zero block, ties, ±amax, tiny and huge blocks. */
function edgeRow(n: number, block: number, seed: number): Float32Array {
  const rnd = seeded(seed);
  const x = randn(n, rnd);
  const nb = n / block;
  for (let b = 0; b < nb; b++) {
    const o = b * block;
    const kind = b % 7;
    for (let j = 0; j < block; j++) {
      if (kind === 0) x[o + j] = 0;
      else if (kind === 1) x[o + j] = j === 0 ? 127 : (j % 2 ? 1 : -1) * (Math.floor(j / 2) + 0.5); // id = 1: exact .5 ties
      else if (kind === 2) x[o + j] = j === 3 ? 2.5 : j === 9 ? -2.5 : x[o + j]! * 0.1; // +amax and -amax
      else if (kind === 3) x[o + j] = x[o + j]! * 1e-4; // d is an f16 subnormal
      else if (kind === 4) x[o + j] = x[o + j]! * 3e6; // d overflows f16
      else if (kind === 5) x[o + j] = x[o + j]! * 37.25;
    }
  }
  return x;
}

describeCpuVariants('cpu kernels: activation converters match ggml x86 byte for byte', (kernels) => (k = kernels), () => {
  for (const kind of ['q8_0', 'q8_1'] as const) {
    it(`${kind}: random rows and edge blocks`, () => {
      for (const [n, seed] of [
        [32, 1],
        [64, 2],
        [224, 3],
        [4096, 4],
      ] as const) {
        assertSameBytes(kind, randn(n, seeded(seed)), `random n=${n}`);
        assertSameBytes(kind, edgeRow(n, 32, seed + 100), `edge blocks n=${n}`);
      }
    });
  }

  it('q8_K: random rows and edge blocks (first of ±amax decides the sign)', () => {
    for (const [n, seed] of [
      [256, 11],
      [512, 12],
      [2048, 13],
    ] as const) {
      assertSameBytes('q8_K', randn(n, seeded(seed)), `random n=${n}`);
      assertSameBytes('q8_K', edgeRow(n * 4, 256, seed + 100), `edge blocks n=${n * 4}`);
    }
    // -amax before +amax: max is negative, iscale positive
    const x = randn(256, seeded(21));
    x[5] = -9;
    x[200] = 9;
    assertSameBytes('q8_K', x, '-amax first');
  });

  it('f16 -> f32 (dequantize_row_f16, the conversion every f16 path uses): all 65536 halves', () => {
    const all = Uint16Array.from({ length: 65536 + 5 }, (_, i) => i % 65536); // + 5: the scalar tail too
    k.reset();
    const hp = k.put(all);
    const yp = k.alloc(all.length * 4);
    k.fn('dequantize_row_f16')(hp, yp, all.length);
    const got = k.readF32(yp, all.length);
    const bits = new Uint32Array(got.buffer);
    for (let i = 0; i < all.length; i++) {
      const want = f16BitsToF32(all[i]!);
      if (Number.isNaN(want)) assert.ok(Number.isNaN(got[i]!) && (bits[i]! & 0x80000000) === (all[i]! & 0x8000) << 16, `half 0x${all[i]!.toString(16)}: got ${got[i]}`);
      else assert.ok(Object.is(got[i], Math.fround(want)), `half 0x${all[i]!.toString(16)}: got ${got[i]}, expected ${want}`);
    }
  });

  const specials = [0, -0, 1, -1, 65504, 65519.99, 65520, -65536, 1e-8, 5.960464477539063e-8, 2.98e-8, 2.9802322387695312e-8, 8.940696716308594e-8,
    6.097555160522461e-5, 6.1035156e-5, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 3.4e38, 1e-40, Infinity, -Infinity, NaN, -NaN];
  for (const kind of ['f16', 'bf16'] as const) {
    it(`${kind}: random values of every magnitude and the special cases, any length`, () => {
      const rnd = seeded(kind === 'f16' ? 31 : 32);
      const x = new Float32Array(1003);
      for (let i = 0; i < x.length; i++) x[i] = (rnd() - 0.5) * 2 ** Math.floor(rnd() * 60 - 30);
      x.set(specials, 17);
      assertSameBytes(kind, x, 'mixed');
      for (const n of [1, 7, 8, 9]) assertSameBytes(kind, x.subarray(17, 17 + n), `n=${n}`);
    });
  }
});
