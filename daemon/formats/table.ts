/**
 * The one table of tensor formats the engine runs. Everything that depends on a weight type — the
 * loader's type check, the GPU and CPU matmul kernels, the reference dequantisation, the model
 * generator — looks its format up here.
 */
import { GgmlType, ggmlTypeName } from '../gguf/ggml-types.js';
import { F16 } from './f16.js';
import { F32 } from './f32.js';
import type { TensorFormat } from './format.js';
import { Q4_0 } from './q4_0.js';
import { Q8_0 } from './q8_0.js';

export type { ActivationFormat, TensorFormat } from './format.js';

const ALL: readonly TensorFormat[] = [F32, F16, Q8_0, Q4_0];

export const FORMATS: ReadonlyMap<GgmlType, TensorFormat> = new Map(ALL.map((f) => [f.type, f]));

/** The format of `type`, or undefined when the engine cannot run it. */
export function formatOf(type: GgmlType): TensorFormat | undefined {
  return FORMATS.get(type);
}

/** The format of `type`; throws naming the type when the engine cannot run it. */
export function requireFormat(type: GgmlType, what = 'tensor'): TensorFormat {
  const f = FORMATS.get(type);
  if (!f) throw new Error(`${what}: type ${ggmlTypeName(type)} is not supported (supported: ${supportedTypeNames()})`);
  return f;
}

/** Weight types the engine runs on every backend. */
export const SUPPORTED_WEIGHT_TYPES: readonly GgmlType[] = ALL.map((f) => f.type);

export function supportedTypeNames(): string {
  return ALL.map((f) => f.name).join(', ');
}

/** Bytes of one row of `cols` values; throws when cols is not a whole number of blocks. */
export function rowBytes(f: TensorFormat, cols: number): number {
  if (cols % f.blockSize) throw new Error(`${f.name} needs a row length divisible by ${f.blockSize}, got ${cols}`);
  return (cols / f.blockSize) * f.typeSize;
}
