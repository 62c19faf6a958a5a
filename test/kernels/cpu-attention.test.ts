/**
 * The CPU kernels' causal attention (attention in dist/moecode-cpu.wasm):
 *  - f32 KV against daemon/gpu/cpu-reference/attention.ts (float64);
 *  - f16 KV against the same computation with ggml's f16 roundings (q rounded to f16 before q·k, the
 *    probabilities rounded to f16 before p·v), in float64;
 * over GQA groups of 1, 2, 3 and 8 query heads per KV head (the kernel takes four at a time), head dims
 * that are not a multiple of 8 and differ between K and V, soft-capping, several query tokens at
 * positions past 0, and a worker's slice of heads (h_off, kv_off) reading its own slice of the cache.
 * Tolerance: |err| <= 2e-5 · Σ_j p_j·|v_j| (+ 2^-11 · max_j p_j·|v_j| with f16 KV: one probability whose f32
 * value sits on an f16 rounding tie may round the other way).
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { f16BitsToF32, f32ToF16Bits, roundToF16 } from '../../daemon/formats/half.js';
import { attentionRef } from '../../daemon/gpu/cpu-reference/attention.js';
import { type CpuKernels, describeCpuVariants } from './cpu-wasm.js';
import { assertClose, randn, seeded } from './kernel-test-utils.js';

let k: CpuKernels;

interface Shape {
  n_head: number;
  n_head_kv: number;
  hd_k: number;
  hd_v: number;
  ntok: number;
  pos0: number;
  scale: number;
  softcap: number;
  f16: boolean;
}

/** Reference [ntok][n_head][hd_v] and the tolerance scale Σ_j p_j |v_j| per output (plus the f16 allowance). */
function reference(q: Float32Array, kc: Float64Array, vc: Float64Array, s: Shape): { out: Float64Array; tol: Float64Array } {
  const group = s.n_head / s.n_head_kv;
  const out = new Float64Array(s.ntok * s.n_head * s.hd_v);
  const tol = new Float64Array(out.length);
  const params = { n_head: s.n_head, n_head_kv: s.n_head_kv, head_dim_k: s.hd_k, head_dim_v: s.hd_v, scale: s.scale, softcap: s.softcap };
  if (!s.f16) out.set(attentionRef(q, kc, vc, s.ntok, s.pos0, 0, params));
  for (let t = 0; t < s.ntok; t++) {
    const nkv = s.pos0 + t + 1;
    for (let h = 0; h < s.n_head; h++) {
      const hkv = Math.floor(h / group);
      const qh = Array.from(q.subarray((t * s.n_head + h) * s.hd_k, (t * s.n_head + h + 1) * s.hd_k), (x) => (s.f16 ? roundToF16(x) : x));
      const sc = new Float64Array(nkv);
      for (let j = 0; j < nkv; j++) {
        let d = 0;
        for (let i = 0; i < s.hd_k; i++) d += qh[i]! * kc[(j * s.n_head_kv + hkv) * s.hd_k + i]!;
        d *= s.scale;
        sc[j] = s.softcap > 0 ? s.softcap * Math.tanh(d / s.softcap) : d;
      }
      const mx = Math.max(...sc);
      let sum = 0;
      for (let j = 0; j < nkv; j++) sum += sc[j] = Math.exp(sc[j]! - mx);
      for (let i = 0; i < s.hd_v; i++) {
        let o = 0;
        let mag = 0;
        let big = 0;
        for (let j = 0; j < nkv; j++) {
          const p = s.f16 ? roundToF16(sc[j]! / sum) : sc[j]! / sum;
          const v = vc[(j * s.n_head_kv + hkv) * s.hd_v + i]!;
          o += p * v;
          mag += Math.abs(p * v);
          big = Math.max(big, Math.abs(p * v));
        }
        const at = (t * s.n_head + h) * s.hd_v + i;
        if (s.f16) out[at] = o;
        tol[at] = 2e-5 * mag + (s.f16 ? 2 ** -11 * big : 0);
      }
    }
  }
  return { out, tol };
}

/** A cache of `rows` positions [rows][n_kv][hd]: f32 values, or f16 bits and their values. */
function cache(rows: number, nkv: number, hd: number, f16: boolean, rnd: () => number): { bytes: Uint8Array; values: Float64Array } {
  const x = randn(rows * nkv * hd, rnd);
  if (!f16) return { bytes: new Uint8Array(x.buffer), values: Float64Array.from(x) };
  const bits = Uint16Array.from(x, (v) => f32ToF16Bits(v));
  return { bytes: new Uint8Array(bits.buffer), values: Float64Array.from(bits, (b) => f16BitsToF32(b)) };
}

/** Runs the kernel on heads [h_off, h_off + n_head_local) and kv heads [kv_off, ...), the worker's slice of the cache. */
function runSlice(s: Shape, q: Float32Array, kc: { bytes: Uint8Array }, vc: { bytes: Uint8Array }, h_off: number, nh: number, kv_off: number, nkvl: number): Float32Array {
  const group = s.n_head / s.n_head_kv;
  const rows = s.pos0 + s.ntok;
  const eb = s.f16 ? 2 : 4;
  const slice = (src: Uint8Array, hd: number) => {
    const out = new Uint8Array(rows * nkvl * hd * eb);
    for (let r = 0; r < rows; r++) out.set(src.subarray((r * s.n_head_kv + kv_off) * hd * eb, (r * s.n_head_kv + kv_off + nkvl) * hd * eb), r * nkvl * hd * eb);
    return out;
  };
  const ql = new Float32Array(s.ntok * nh * s.hd_k);
  for (let t = 0; t < s.ntok; t++) ql.set(q.subarray((t * s.n_head + h_off) * s.hd_k, (t * s.n_head + h_off + nh) * s.hd_k), t * nh * s.hd_k);
  k.reset();
  const qp = k.put(ql);
  const kp = k.put(slice(kc.bytes, s.hd_k));
  const vp = k.put(slice(vc.bytes, s.hd_v));
  const outLen = s.ntok * nh * s.hd_v;
  const op = k.alloc((outLen + 8) * 4);
  k.f32(op, outLen + 8).fill(-777);
  const sp = k.alloc(4 * rows * 4);
  k.fn('attention')(qp, kp, vp, op, sp, s.ntok, nh, nkvl, s.hd_k, s.hd_v, h_off, kv_off, group, s.pos0, s.scale, s.softcap, s.f16 ? 1 : 0);
  const out = k.readF32(op, outLen + 8);
  assert.ok(out.subarray(outLen).every((v) => v === -777), 'attention wrote past its output');
  return out.subarray(0, outLen);
}

function check(s: Shape, seed: number, slice?: { h_off: number; nh: number; kv_off: number; nkvl: number }): void {
  const rnd = seeded(seed);
  const rows = s.pos0 + s.ntok;
  const q = randn(s.ntok * s.n_head * s.hd_k, rnd);
  const kc = cache(rows, s.n_head_kv, s.hd_k, s.f16, rnd);
  const vc = cache(rows, s.n_head_kv, s.hd_v, s.f16, rnd);
  const ref = reference(q, kc.values, vc.values, s);
  const sl = slice ?? { h_off: 0, nh: s.n_head, kv_off: 0, nkvl: s.n_head_kv };
  const got = runSlice(s, q, kc, vc, sl.h_off, sl.nh, sl.kv_off, sl.nkvl);
  const pick = (a: Float64Array) => {
    const out = new Float64Array(got.length);
    for (let t = 0; t < s.ntok; t++) out.set(a.subarray((t * s.n_head + sl.h_off) * s.hd_v, (t * s.n_head + sl.h_off + sl.nh) * s.hd_v), t * sl.nh * s.hd_v);
    return out;
  };
  const tol = pick(ref.tol);
  assertClose(got, pick(ref.out), { rtol: 1, scale: tol, what: `attention ${JSON.stringify(s)}${slice ? ` slice ${JSON.stringify(slice)}` : ''}` });
}

const base: Shape = { n_head: 4, n_head_kv: 2, hd_k: 64, hd_v: 64, ntok: 5, pos0: 3, scale: 0.125, softcap: 0, f16: false };

describeCpuVariants('cpu kernels: attention against the float64 reference', (kernels) => (k = kernels), () => {
  for (const f16 of [false, true]) {
    const kv = f16 ? 'f16 KV' : 'f32 KV';
    it(`${kv}: GQA groups 1, 2, 3, 8; several tokens past position 0`, () => {
      check({ ...base, f16, n_head: 2, n_head_kv: 2 }, 1);
      check({ ...base, f16 }, 2);
      check({ ...base, f16, n_head: 6, n_head_kv: 2, ntok: 3, pos0: 17 }, 3);
      check({ ...base, f16, n_head: 8, n_head_kv: 1, ntok: 1, pos0: 40 }, 4);
    });
    it(`${kv}: head dims not a multiple of 8, K and V dims differ`, () => {
      check({ ...base, f16, hd_k: 12, hd_v: 20, scale: 0.3 }, 5);
      check({ ...base, f16, hd_k: 3, hd_v: 5, n_head: 3, n_head_kv: 1, scale: 0.5 }, 6);
    });
    it(`${kv}: soft-capping (scores well past the cap)`, () => {
      check({ ...base, f16, scale: 1, softcap: 4 }, 7);
    });
    it(`${kv}: a worker's slice of heads reads its slice of the cache`, () => {
      const s = { ...base, f16, n_head: 8, n_head_kv: 4 };
      check(s, 8, { h_off: 4, nh: 4, kv_off: 2, nkvl: 2 });
      check(s, 9, { h_off: 2, nh: 4, kv_off: 1, nkvl: 2 });
    });
  }

  it('f16 KV: the probabilities are rounded to f16 before p·v', () => {
    // one query, two positions: p = softmax(0, x); v = 1 everywhere, so out = f16(p0) + f16(p1) ≠ 1
    const x = f16BitsToF32(f32ToF16Bits(1.3));
    const s: Shape = { n_head: 1, n_head_kv: 1, hd_k: 8, hd_v: 8, ntok: 1, pos0: 1, scale: 1, softcap: 0, f16: true };
    const q = new Float32Array(8);
    q[0] = 1;
    const kb = new Uint16Array(16);
    kb[8] = f32ToF16Bits(x);
    const vb = new Uint16Array(16).fill(f32ToF16Bits(1));
    const got = runSlice(s, q, { bytes: new Uint8Array(kb.buffer) }, { bytes: new Uint8Array(vb.buffer) }, 0, 1, 0, 1);
    const p1 = 1 / (1 + Math.exp(-x));
    const want = roundToF16(1 - p1) + roundToF16(p1);
    assert.ok(Math.abs(want - 1) > 1e-5, 'the case must be sensitive to the rounding');
    for (const v of got) assert.ok(Math.abs(v - want) < 1e-6, `attention with f16 KV gave ${v}, expected ${want} (unrounded probabilities give 1)`);
  });
});
