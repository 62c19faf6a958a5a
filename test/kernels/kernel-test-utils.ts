/**
 * Shared bits of the kernel tests: seeded random inputs and array comparisons that report the worst
 * element (index, values, error, bound) when they fail.
 */
import assert from 'node:assert/strict';

/** mulberry32: a small seeded generator in [0, 1). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(rnd: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
}

/** n normal values times `std` (as f32). */
export function randn(n: number, rnd: () => number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = gaussian(rnd) * std;
  return out;
}

/** n uniform values in [lo, hi) (as f32). */
export function randu(n: number, rnd: () => number, lo = -1, hi = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rnd();
  return out;
}

export interface CloseOptions {
  /** Relative tolerance, times `scale[i]` when given, else |expected[i]|. */
  rtol: number;
  /** Absolute tolerance. */
  atol?: number;
  /** Per-element magnitude the relative tolerance applies to (e.g. Σ|w·x| for a dot product). */
  scale?: ArrayLike<number>;
  what?: string;
}

/** Asserts |actual[i] - expected[i]| <= atol + rtol * scale[i] for every i (NaN never passes). */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, o: CloseOptions): void {
  const what = o.what ?? 'values';
  assert.equal(actual.length, expected.length, `${what}: length`);
  const atol = o.atol ?? 0;
  let bad = 0;
  let worst = -1;
  let worstRatio = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    const bound = atol + o.rtol * (o.scale ? o.scale[i]! : Math.abs(e));
    const err = Math.abs(a - e);
    const ratio = bound > 0 ? err / bound : err > 0 ? Infinity : 0;
    if (!(err <= bound)) {
      bad++;
      if (worst < 0 || !(ratio <= worstRatio)) {
        worst = i;
        worstRatio = ratio;
      }
    }
  }
  if (bad > 0) {
    const a = actual[worst]!;
    const e = expected[worst]!;
    const bound = atol + o.rtol * (o.scale ? o.scale[worst]! : Math.abs(e));
    assert.fail(`${what}: ${bad} of ${expected.length} elements out of tolerance; worst at [${worst}]: got ${a}, expected ${e}, |err| ${Math.abs(a - e)} > bound ${bound} (rtol ${o.rtol}, atol ${atol})`);
  }
}

/** Asserts two integer arrays are identical, naming the first difference. */
export function assertSameInts(actual: ArrayLike<number>, expected: ArrayLike<number>, what = 'values'): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > 0) assert.fail(`${what}: ${bad} of ${expected.length} differ; first at [${first}]: got ${actual[first]}, expected ${expected[first]}`);
}

/** Asserts two f32 arrays are bit-identical (so -0 vs 0 and NaN payloads count). */
export function assertSameF32Bits(actual: Float32Array, expected: Float32Array, what = 'values'): void {
  const a = new Uint32Array(actual.buffer, actual.byteOffset, actual.length);
  const e = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  assert.equal(a.length, e.length, `${what}: length`);
  let bad = 0;
  let first = -1;
  for (let i = 0; i < e.length; i++) {
    if (a[i] !== e[i]) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad > 0) assert.fail(`${what}: ${bad} of ${e.length} not bit-identical; first at [${first}]: got ${actual[first]}, expected ${expected[first]}`);
}
