/**
 * The byte-exact activation conversions the CPU kernels must produce (ggml-cpu's from_float on x86 for
 * each vec_dot_type) and what the dot products then see: the activation codecs of daemon/formats
 * (activation.ts), in the shape the kernel tests use.
 */
import { ACTIVATION_CODECS, activationBytes } from '../../daemon/formats/activation.js';
import type { ActivationFormat } from '../../daemon/formats/format.js';

export type ActivationKind = ActivationFormat;

/** Bytes of one activation row of n values. */
export function activationRowBytes(kind: ActivationKind, n: number): number {
  return activationBytes(kind, n);
}

/** ggml-cpu x86's from_float for `kind`: one row of x → bytes. */
export function quantizeActivationRef(kind: ActivationKind, x: Float32Array): Uint8Array {
  const out = new Uint8Array(activationBytes(kind, x.length));
  ACTIVATION_CODECS[kind].quantize(x, out, 0);
  return out;
}

/** What the dot products see: the activation values the bytes stand for (q·d exactly), n values. */
export function decodeActivation(kind: ActivationKind, bytes: Uint8Array, n: number): Float64Array {
  const out = new Float64Array(n);
  ACTIVATION_CODECS[kind].decode(bytes, n, out);
  return out;
}
