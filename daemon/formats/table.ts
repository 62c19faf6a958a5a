/**
 * The one table of tensor formats. Everything that depends on a weight type — the loader's type check,
 * the GPU and CPU matmul kernels, the reference dequantisation, the model generator — looks its format
 * up here.
 *
 * Known vs supported: every format listed is KNOWN (layout, reference dequantisation, activation format;
 * the float64 reference forward pass and the model generator use them all). A weight type is SUPPORTED
 * by the engine only when each backend has a kernel for it (`wgsl` and `cpu` set); the loader
 * (model/hparams.ts) accepts only supported types, so registering a format without kernels changes
 * nothing for the engine.
 */
import { GgmlType, ggmlTypeName } from '../gguf/ggml-types.js';
import { BF16 } from './bf16.js';
import { F16 } from './f16.js';
import { F32 } from './f32.js';
import type { TensorFormat } from './format.js';
import { IQ4_NL } from './iq4_nl.js';
import { IQ4_XS } from './iq4_xs.js';
import { MXFP4 } from './mxfp4.js';
import { Q2_K } from './q2_k.js';
import { Q3_K } from './q3_k.js';
import { Q4_0 } from './q4_0.js';
import { Q4_1 } from './q4_1.js';
import { Q4_K } from './q4_k.js';
import { Q5_0 } from './q5_0.js';
import { Q5_1 } from './q5_1.js';
import { Q5_K } from './q5_k.js';
import { Q6_K } from './q6_k.js';
import { Q8_0 } from './q8_0.js';

export type { ActivationFormat, TensorFormat } from './format.js';

/** Every known format. */
export const KNOWN_FORMATS: readonly TensorFormat[] = [F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, IQ4_XS, MXFP4];

export const FORMATS: ReadonlyMap<GgmlType, TensorFormat> = new Map(KNOWN_FORMATS.map((f) => [f.type, f]));

/** The kernel sets a format can have: the WebGPU backend's WGSL block function, the CPU backend's export. */
export type KernelSet = 'wgsl' | 'cpu';

/** Whether `f` has a kernel on `backend`. */
export function hasKernel(f: TensorFormat, backend: KernelSet): boolean {
  return f[backend] !== undefined;
}

/** The format of `type` (any known format, with kernels or not), or undefined when unknown. */
export function formatOf(type: GgmlType): TensorFormat | undefined {
  return FORMATS.get(type);
}

/** The format of `type`; throws naming the type when it is unknown. */
export function requireFormat(type: GgmlType, what = 'tensor'): TensorFormat {
  const f = FORMATS.get(type);
  if (!f) throw new Error(`${what}: type ${ggmlTypeName(type)} is not a known tensor format (known: ${KNOWN_FORMATS.map((x) => x.name).join(', ')})`);
  return f;
}

/** Every known weight type (the reference forward pass and the model generator handle them all). */
export const KNOWN_WEIGHT_TYPES: readonly GgmlType[] = KNOWN_FORMATS.map((f) => f.type);

/** Weight types the engine runs: those with a kernel on every backend. */
export const SUPPORTED_WEIGHT_TYPES: readonly GgmlType[] = KNOWN_FORMATS.filter((f) => hasKernel(f, 'wgsl') && hasKernel(f, 'cpu')).map((f) => f.type);

/** Weight types one backend runs: those with its kernel (the CPU backend loads these; see engine/model.ts). */
export function weightTypesWithKernel(backend: KernelSet): readonly GgmlType[] {
  return KNOWN_FORMATS.filter((f) => hasKernel(f, backend)).map((f) => f.type);
}

export function supportedTypeNames(): string {
  return SUPPORTED_WEIGHT_TYPES.map(ggmlTypeName).join(', ');
}

/** Bytes of one row of `cols` values; throws when cols is not a whole number of blocks. */
export function rowBytes(f: TensorFormat, cols: number): number {
  if (cols % f.blockSize) throw new Error(`${f.name} needs a row length divisible by ${f.blockSize}, got ${cols}`);
  return (cols / f.blockSize) * f.typeSize;
}
