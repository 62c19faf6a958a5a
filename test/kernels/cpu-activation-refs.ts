/**
 * Byte-exact references of ggml-cpu's activation conversions on x86 (the vec_dot_type each weight format's
 * matmul multiplies against), as the CPU kernels must produce them, and what the dot products then see.
 *   q8_0: daemon/gpu/cpu-reference/quantize-q8-0.ts ('x86' variant), packed into 34-byte blocks.
 *   q8_1: the same d and q, plus s = f16(d_f32 · Σq)                 (arch/x86/quants.c quantize_row_q8_1)
 *   q8_K: quantize_row_q8_K_ref (ggml-quants.c, which x86 calls); an all-zero block is all zeros.
 *   f16 / bf16: daemon/formats (round to nearest even).
 * The formats-ref branch adds the same codecs as daemon/formats/activation-*.ts; once both are merged,
 * these should delegate to them (one place per concept).
 */
import { F16 } from '../../daemon/formats/f16.js';
import { f16BitsToF32, f32ToBf16Bits, f32ToF16Bits, bf16BitsToF32 } from '../../daemon/formats/half.js';
import { quantizeQ8_0Ref } from '../../daemon/gpu/cpu-reference/quantize-q8-0.js';

export type ActivationKind = 'f32' | 'f16' | 'bf16' | 'q8_0' | 'q8_1' | 'q8_K';

const fr = Math.fround;

function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Bytes of one activation row of n values. */
export function activationRowBytes(kind: ActivationKind, n: number): number {
  switch (kind) {
    case 'f32':
      return n * 4;
    case 'f16':
    case 'bf16':
      return n * 2;
    case 'q8_0':
      return (n / 32) * 34;
    case 'q8_1':
      return (n / 32) * 36;
    case 'q8_K':
      return (n / 256) * 292;
  }
}

/** ggml-cpu x86's from_float for `kind`: one row of x → bytes. */
export function quantizeActivationRef(kind: ActivationKind, x: Float32Array): Uint8Array {
  const out = new Uint8Array(activationRowBytes(kind, x.length));
  const dv = new DataView(out.buffer);
  switch (kind) {
    case 'f32':
      out.set(new Uint8Array(x.buffer.slice(x.byteOffset, x.byteOffset + x.byteLength)));
      break;
    case 'f16':
      F16.quantize!(x, out, 0);
      break;
    case 'bf16':
      for (let i = 0; i < x.length; i++) dv.setUint16(2 * i, f32ToBf16Bits(x[i]!), true);
      break;
    case 'q8_0':
    case 'q8_1': {
      const { qs, d } = quantizeQ8_0Ref(x, x.length, 1, 0, 'x86');
      const bs = kind === 'q8_0' ? 34 : 36;
      const qo = kind === 'q8_0' ? 2 : 4;
      for (let b = 0; b < x.length / 32; b++) {
        dv.setUint16(b * bs, f32ToF16Bits(d[b]!), true);
        let sum = 0;
        for (let j = 0; j < 32; j++) {
          dv.setInt8(b * bs + qo + j, qs[b * 32 + j]!);
          sum += qs[b * 32 + j]!;
        }
        if (kind === 'q8_1') {
          let amax = 0;
          for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
          dv.setUint16(b * bs + 2, f32ToF16Bits(fr(fr(amax / 127) * sum)), true);
        }
      }
      break;
    }
    case 'q8_K':
      for (let b = 0; b < x.length / 256; b++) {
        const o = b * 292;
        let amax = 0;
        let max = 0;
        for (let j = 0; j < 256; j++) {
          const ax = Math.abs(x[b * 256 + j]!);
          if (ax > amax) {
            amax = ax;
            max = x[b * 256 + j]!;
          }
        }
        if (amax === 0) continue; // all zeros
        const iscale = fr(-127 / max);
        for (let k = 0; k < 16; k++) {
          let sum = 0;
          for (let l = 0; l < 16; l++) {
            const j = 16 * k + l;
            const q = Math.min(127, roundHalfEven(fr(iscale * x[b * 256 + j]!)));
            sum += q;
            dv.setInt8(o + 4 + j, q);
          }
          dv.setInt16(o + 260 + 2 * k, sum, true);
        }
        dv.setFloat32(o, fr(1 / iscale), true);
      }
      break;
  }
  return out;
}

/** What the dot products see: the activation values the bytes stand for (q·d exactly), n values. */
export function decodeActivation(kind: ActivationKind, bytes: Uint8Array, n: number): Float64Array {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    switch (kind) {
      case 'f32':
        out[i] = dv.getFloat32(4 * i, true);
        break;
      case 'f16':
        out[i] = f16BitsToF32(dv.getUint16(2 * i, true));
        break;
      case 'bf16':
        out[i] = bf16BitsToF32(dv.getUint16(2 * i, true));
        break;
      case 'q8_0':
        out[i] = dv.getInt8(Math.floor(i / 32) * 34 + 2 + (i % 32)) * f16BitsToF32(dv.getUint16(Math.floor(i / 32) * 34, true));
        break;
      case 'q8_1':
        out[i] = dv.getInt8(Math.floor(i / 32) * 36 + 4 + (i % 32)) * f16BitsToF32(dv.getUint16(Math.floor(i / 32) * 36, true));
        break;
      case 'q8_K':
        out[i] = dv.getInt8(Math.floor(i / 256) * 292 + 4 + (i % 256)) * dv.getFloat32(Math.floor(i / 256) * 292, true);
        break;
    }
  }
  return out;
}
