/**
 * The composed embedding lookup (shaders/get_rows.wgsl + a format's dequant, one kernel per format with a
 * `wgsl` kernel) vs daemon/gpu/cpu-reference/get-rows.ts: tables in every such format, typical and wild
 * blocks (test-weights.ts), split into row shards (one dispatch per shard, as graph-builder.ts embed()
 * records). Bit-exact: ggml's dequantisation rounds at most once in f32 (the WGSL repeats its order of
 * operations), and the embedding scale is one more f32 rounding.
 */
import assert from 'node:assert/strict';
import { GgmlType, ggmlTypeName } from '../../daemon/gguf/ggml-types.js';
import { getRowsRef } from '../../daemon/gpu/cpu-reference/get-rows.js';
import { requireFormat } from '../../daemon/formats/table.js';
import { getRowsKernel } from '../../daemon/gpu/kernels.js';
import { planeWords } from '../../daemon/gpu/weight-layout.js';
import { grid, type GpuKernelHarness, kernelTest } from '../helpers/gpu-harness.js';
import { assertSameF32Bits, seeded } from './kernel-test-utils.js';
import { type BlockStyle, randomMatrix, shardMatrix, type TestMatrix, WEIGHT_TYPES } from './test-weights.js';

const SENTINEL = 1234.5;

async function getRows(h: GpuKernelHarness, m: TestMatrix, boundaries: number[], ids: Uint32Array, n_tokens: number, scale: number): Promise<Float32Array> {
  const out = h.buffer(new Float32Array((n_tokens + 1) * m.cols).fill(SENTINEL));
  const idBuf = h.buffer(ids);
  const shards = shardMatrix(m, boundaries).map((s) => ({ ...s, buffer: h.buffer(s.bytes) }));
  try {
    const { dispose } = await h.submit(
      shards.map((s) => ({
        kernel: getRowsKernel(requireFormat(m.type)),
        step: { n_tokens },
        params: [m.cols, s.rowStart, s.rows, ...planeWords(s.planeOffsets), { f32: scale }],
        // kernels.ts GET_ROWS_BINDINGS: the shard at 2 and 8
        bindings: { 2: s.buffer, 4: out, 5: idBuf, 8: s.buffer },
        dispatch: grid(n_tokens * m.cols),
      })),
    );
    dispose();
    return new Float32Array(await h.read(out, (n_tokens + 1) * m.cols * 4));
  } finally {
    for (const b of [out, idBuf, ...shards.map((s) => s.buffer)]) b.destroy();
  }
}

function check(m: TestMatrix, boundaries: number[], ids: Uint32Array, n_tokens: number, scale: number, y: Float32Array, what: string): void {
  const initial = new Float32Array((n_tokens + 1) * m.cols).fill(SENTINEL);
  // every shard in turn, as the GPU ran them
  let ref: Float32Array = initial;
  const cuts = [0, ...boundaries, m.rows];
  for (let i = 0; i + 1 < cuts.length; i++) {
    ref = getRowsRef({ type: m.type, n: m.cols, table: m.ggml, ids: ids.subarray(0, n_tokens), row_start: cuts[i]!, rows: cuts[i + 1]! - cuts[i]!, scale, initial: ref });
  }
  assertSameF32Bits(y, ref, what);
}

for (const type of WEIGHT_TYPES) {
  kernelTest(`get_rows ${ggmlTypeName(type)}: one and several row shards, n_tokens 1..70, embedding scale, typical and wild blocks`, async (h) => {
    const rnd = seeded(70 + type);
    const bs = requireFormat(type).blockSize;
    const C = (cols: number) => Math.max(bs, Math.ceil(cols / bs) * bs);
    const cases: { rows: number; cols: number; n_tokens: number; boundaries: number[]; scale: number; style?: BlockStyle }[] = [
      { rows: 50, cols: C(64), n_tokens: 1, boundaries: [], scale: 1 },
      { rows: 50, cols: C(128), n_tokens: 3, boundaries: [20], scale: 1 },
      { rows: 101, cols: C(96), n_tokens: 17, boundaries: [37, 64], scale: 12 }, // granitemoe-like multiplier
      { rows: 77, cols: C(256), n_tokens: 70, boundaries: [76], scale: 78.38367176906169 }, // grok: sqrt(n_embd)-like
      { rows: 70001, cols: C(32), n_tokens: 5, boundaries: [65536], scale: 1 }, // a vocabulary past 65535 rows
      { rows: 33, cols: C(512), n_tokens: 9, boundaries: [13], scale: 1, style: 'wild' }, // every bit of the blocks random
    ];
    for (const c of cases) {
      const m = randomMatrix(type, c.rows, c.cols, rnd, 1, c.style);
      const ids = new Uint32Array(c.n_tokens + 1);
      for (let t = 0; t <= c.n_tokens; t++) ids[t] = Math.floor(rnd() * c.rows);
      ids[0] = c.rows - 1; // the last row of the last shard
      if (c.boundaries.length) ids[Math.min(1, c.n_tokens - 1)] = c.boundaries[0]!; // first row of a later shard
      const y = await getRows(h, m, c.boundaries, ids, c.n_tokens, c.scale);
      check(m, c.boundaries, ids, c.n_tokens, c.scale, y, `${ggmlTypeName(type)} ${JSON.stringify(c)}`);
    }
  });
}

kernelTest('get_rows Q4_0 and F16: more than 65535 workgroups (2-D fold), 1025 tokens of 4096', async (h) => {
  const rnd = seeded(79);
  const n_tokens = 1025;
  assert.ok(grid(n_tokens * 4096)[1] > 1);
  for (const type of [GgmlType.Q4_0, GgmlType.F16]) {
    const m = randomMatrix(type, 40, 4096, rnd);
    const ids = Uint32Array.from({ length: n_tokens + 1 }, () => Math.floor(rnd() * 40));
    const y = await getRows(h, m, [17], ids, n_tokens, 0.5);
    check(m, [17], ids, n_tokens, 0.5, y, `${ggmlTypeName(type)} folded grid`);
  }
});
