/** ggml tensor types and GGUF metadata value types, numbered as in ggml.h / gguf.h. */

export enum GgmlType {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
  NVFP4 = 40,
  Q1_0 = 41,
  Q2_0 = 42,
}

/** ggml's GGML_TYPE_COUNT (v0.4.0 bundle): type ids at or above this are unknown to ggml. */
export const GGML_TYPE_COUNT = 43;

/** Elements per block and bytes per block for the types whose layout we know. */
export const GGML_BLOCK: Partial<Record<GgmlType, { blockSize: number; typeSize: number }>> = {
  [GgmlType.F32]: { blockSize: 1, typeSize: 4 },
  [GgmlType.F16]: { blockSize: 1, typeSize: 2 },
  [GgmlType.BF16]: { blockSize: 1, typeSize: 2 },
  [GgmlType.Q4_0]: { blockSize: 32, typeSize: 18 },
  [GgmlType.Q4_1]: { blockSize: 32, typeSize: 20 },
  [GgmlType.Q5_0]: { blockSize: 32, typeSize: 22 },
  [GgmlType.Q5_1]: { blockSize: 32, typeSize: 24 },
  [GgmlType.Q8_0]: { blockSize: 32, typeSize: 34 },
  [GgmlType.Q8_1]: { blockSize: 32, typeSize: 36 },
  [GgmlType.Q2_K]: { blockSize: 256, typeSize: 84 },
  [GgmlType.Q3_K]: { blockSize: 256, typeSize: 110 },
  [GgmlType.Q4_K]: { blockSize: 256, typeSize: 144 },
  [GgmlType.Q5_K]: { blockSize: 256, typeSize: 176 },
  [GgmlType.Q6_K]: { blockSize: 256, typeSize: 210 },
  [GgmlType.Q8_K]: { blockSize: 256, typeSize: 292 },
  [GgmlType.I8]: { blockSize: 1, typeSize: 1 },
  [GgmlType.I16]: { blockSize: 1, typeSize: 2 },
  [GgmlType.I32]: { blockSize: 1, typeSize: 4 },
  [GgmlType.I64]: { blockSize: 1, typeSize: 8 },
  [GgmlType.F64]: { blockSize: 1, typeSize: 8 },
  // sizes from the static_asserts in ggml/src/ggml-common.h (QK_K = 256)
  [GgmlType.IQ2_XXS]: { blockSize: 256, typeSize: 66 },
  [GgmlType.IQ2_XS]: { blockSize: 256, typeSize: 74 },
  [GgmlType.IQ3_XXS]: { blockSize: 256, typeSize: 98 },
  [GgmlType.IQ1_S]: { blockSize: 256, typeSize: 50 },
  [GgmlType.IQ4_NL]: { blockSize: 32, typeSize: 18 },
  [GgmlType.IQ3_S]: { blockSize: 256, typeSize: 110 },
  [GgmlType.IQ2_S]: { blockSize: 256, typeSize: 82 },
  [GgmlType.IQ4_XS]: { blockSize: 256, typeSize: 136 },
  [GgmlType.IQ1_M]: { blockSize: 256, typeSize: 56 },
  [GgmlType.TQ1_0]: { blockSize: 256, typeSize: 54 },
  [GgmlType.TQ2_0]: { blockSize: 256, typeSize: 66 },
  [GgmlType.MXFP4]: { blockSize: 32, typeSize: 17 },
  [GgmlType.NVFP4]: { blockSize: 64, typeSize: 36 },
  [GgmlType.Q1_0]: { blockSize: 128, typeSize: 18 },
  [GgmlType.Q2_0]: { blockSize: 64, typeSize: 18 },
};

export function ggmlTypeName(t: number): string {
  return (GgmlType as unknown as Record<number, string>)[t] ?? `unknown(${t})`;
}

/** Bytes taken by a row-major tensor of `nElements` of type `t`; throws for unknown types or partial blocks. */
export function ggmlByteSize(t: GgmlType, nElements: number): number {
  const b = GGML_BLOCK[t];
  if (!b) throw new Error(`unknown ggml type ${t}`);
  if (nElements % b.blockSize !== 0) throw new Error(`${nElements} elements is not a whole number of ${ggmlTypeName(t)} blocks`);
  return (nElements / b.blockSize) * b.typeSize;
}

export enum GgufValueType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}
