/**
 * readSlice (daemon/cpu/slice-reader.ts): a rank's slice of a matrix read from a file into its memory, byte for
 * byte what the matrix holds at those rows and columns, for whole rows, narrow column slices (chunks of whole
 * rows read) and wide ones (a pread per row: only the slice's bytes read), in an expert slab past the first.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { requireFormat } from '../../daemon/formats/table.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { FileSet, readSlice, ROW_READ_MIN, type TensorLocation } from '../../daemon/cpu/slice-reader.js';
import type { WeightHandle } from '../../daemon/model/weights.js';

const dir = mkdtempSync(join(tmpdir(), 'moecode-slice-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const Q8 = requireFormat(GgmlType.Q8_0);
const ROWS = 6;
const COLS = 32 * 512; // 512 blocks of 34 bytes per row: 17,408 bytes
const EXPERTS = 2;
const OFFSET = 96; // the tensor starts past some header bytes
const rowBytes = (COLS / 32) * Q8.typeSize;
const bytes = new Uint8Array(OFFSET + EXPERTS * ROWS * rowBytes);
for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
const path = join(dir, 'matrix.bin');
writeFileSync(path, bytes);
const loc: TensorLocation = { path, offset: OFFSET, type: GgmlType.Q8_0, dims: [COLS, ROWS, EXPERTS] };
const handle = (expert: number): WeightHandle => ({ tensor: 't', name: `t.e${expert}`, type: GgmlType.Q8_0, rows: ROWS, cols: COLS, expert });

/** The slice as the file holds it: rows r0..r1, block columns b0..b1, of expert `e`. */
function expected(e: number, r0: number, r1: number, b0: number, b1: number): Uint8Array {
  const out: number[] = [];
  for (let r = r0; r < r1; r++) {
    const at = OFFSET + (e * ROWS + r) * rowBytes;
    out.push(...bytes.subarray(at + b0 * Q8.typeSize, at + b1 * Q8.typeSize));
  }
  return Uint8Array.from(out);
}

test('whole rows, narrow and wide column slices are the matrix\'s bytes; a wide slice reads only its own bytes', () => {
  const files = new FileSet();
  try {
    const cases = [
      { e: 0, r0: 0, r1: ROWS, b0: 0, b1: 512, whole: true },
      { e: 1, r0: 1, r1: 5, b0: 0, b1: 512, whole: true },
      { e: 1, r0: 0, r1: ROWS, b0: 3, b1: 40, whole: false }, // 1,258 bytes a row: narrow
      { e: 1, r0: 2, r1: ROWS, b0: 256, b1: 512, whole: false }, // 8,704 bytes a row: wide
      { e: 0, r0: 0, r1: 3, b0: 100, b1: 100 + Math.ceil(ROW_READ_MIN / Q8.typeSize), whole: false },
    ];
    for (const c of cases) {
      const want = expected(c.e, c.r0, c.r1, c.b0, c.b1);
      const dst = new Uint8Array(want.length + 7).fill(0xee);
      const read = readSlice(files, loc, handle(c.e), { rows: { start: c.r0, end: c.r1 }, cols: { start: c.b0 * 32, end: c.b1 * 32 } }, dst);
      assert.deepEqual(dst.subarray(0, want.length), want, JSON.stringify(c));
      assert.ok(dst.subarray(want.length).every((b) => b === 0xee), 'nothing written past the slice');
      const sliceRow = (c.b1 - c.b0) * Q8.typeSize;
      const rows = c.r1 - c.r0;
      const wide = c.whole || sliceRow >= ROW_READ_MIN;
      assert.equal(read, wide ? rows * sliceRow : rows * rowBytes, `bytes read for ${JSON.stringify(c)}`);
    }
  } finally {
    files.close();
  }
});

test('a slice past the end of the file is a short-read error, not zeros', () => {
  const files = new FileSet();
  try {
    const short: TensorLocation = { ...loc, offset: OFFSET + rowBytes };
    assert.throws(() => readSlice(files, short, handle(1), { rows: { start: 0, end: ROWS }, cols: { start: 256 * 32, end: COLS } }, new Uint8Array(ROWS * 256 * Q8.typeSize)), /short read/);
  } finally {
    files.close();
  }
});
