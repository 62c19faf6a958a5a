/**
 * CPU reference of shaders/get_rows.wgsl: the token embedding lookup (ggml_get_rows, dequantizing the
 * row) times a scale (granitemoe / grok embedding multipliers), restricted to one row shard of the table.
 * Dequantization is ggml's (gguf/quantize.ts dequantizeRow): exact, so only the f32 product rounds.
 */
import { GgmlType, ggmlByteSize } from '../../gguf/ggml-types.js';
import { dequantizeRow } from '../../gguf/quantize.js';

export interface GetRowsRefArgs {
  type: GgmlType;
  /** Row length (ne0). */
  n: number;
  /** The whole table as stored in GGUF: [n_rows] rows of ggml blocks. */
  table: Uint8Array;
  ids: ArrayLike<number>;
  /** The shard holds table rows [row_start, row_start + rows). */
  row_start: number;
  rows: number;
  scale: number;
  /** The output before the lookup [ids.length, n]: tokens outside the shard keep these values. */
  initial: ArrayLike<number>;
}

export function getRowsRef(a: GetRowsRefArgs): Float32Array {
  const out = Float32Array.from(a.initial as ArrayLike<number>);
  const rowBytes = ggmlByteSize(a.type, a.n);
  const scale = Math.fround(a.scale); // an f32 parameter (ggml_scale's float s)
  for (let t = 0; t < a.ids.length; t++) {
    const id = a.ids[t]!;
    if (id < a.row_start || id >= a.row_start + a.rows) continue;
    const row = dequantizeRow(a.type, a.table.subarray(id * rowBytes, (id + 1) * rowBytes), a.n);
    for (let i = 0; i < a.n; i++) out[t * a.n + i] = Math.fround(row[i]! * scale);
  }
  return out;
}
