/**
 * The composed matmul kernels (shaders/matmul.wgsl + a format's block function, one per format with a
 * `wgsl` kernel) vs daemon/gpu/cpu-reference/matmul.ts, in the three modes the graph builder records:
 * dense token rows (0), logits rows from logits_start (1) and an expert's gathered slot list with an
 * indirect dispatch (2); weights split into row shards written at y_col_offset (small shards: the
 * `maxBindingBytes` path). Weights come from ggml's quantizers or random valid blocks (test-weights.ts),
 * repacked into the format's GPU planes by gpu/weight-layout.ts; activations are converted on the host by
 * the byte-exact codecs (daemon/formats/activation*.ts) into the GPU layout (q8 blocks, f16 / bf16-rounded
 * f32; the converter kernels have their own test, activations.test.ts), and the reference sees exactly
 * those (plus, for Q4_1 / Q5_1, the Q8_1 block sums ggml multiplies the mins by).
 *
 * Tolerance: |err| <= rtol · Σ_c |W[r, c] · a[c]| + 1e-30. Float formats: rtol 1e-5 (f32 products summed
 * over <= 4096 columns; measured worst 1.6e-7). Quantised formats: rtol 1e-6 — their integer block sums
 * are exact, so only a few f32 roundings per chunk of 32 remain (all passed at 1e-7 here); a scale rounded
 * to f16 once too often, a swapped nibble or a lost min term is orders of magnitude above it.
 */
import assert from 'node:assert/strict';
import { activationAsSeen } from '../../daemon/formats/activation.js';
import { requireFormat } from '../../daemon/formats/table.js';
import { GgmlType, ggmlTypeName } from '../../daemon/gguf/ggml-types.js';
import { matmulRef, type MatmulModeRef } from '../../daemon/gpu/cpu-reference/matmul.js';
import { moeGroupRef } from '../../daemon/gpu/cpu-reference/moe-group.js';
import { quantizeQ8Ref, type Q8Format, type Q8Rows } from '../../daemon/gpu/cpu-reference/quantize-q8.js';
import { matmulKernel } from '../../daemon/gpu/kernels.js';
import { planeWords } from '../../daemon/gpu/weight-layout.js';
import { type GpuKernelHarness, type KernelCall, kernelTest, WG } from '../helpers/gpu-harness.js';
import { assertClose, randn, seeded } from './kernel-test-utils.js';
import { type BlockStyle, minsOf, randomMatrix, shardMatrix, type TestMatrix, WEIGHT_TYPES } from './test-weights.js';

const rtolOf = (type: GgmlType) => (requireFormat(type).blockSize === 1 ? 1e-5 : 1e-6);

/** A row length the format takes: `cols` rounded up to its block (256-value K-quants / IQ4_XS). */
function colsFor(type: GgmlType, cols: number): number {
  const bs = Math.max(requireFormat(type).blockSize, 8);
  return Math.max(bs, Math.ceil(cols / bs) * bs);
}

const isQ8 = (act: string): act is Q8Format => act === 'q8_0' || act === 'q8_1' || act === 'q8_K';

/** GPU activation buffers: f32 rows (f16 / bf16-rounded for those formats), or the q8 layout (quants at 3, block words at 7). */
interface Activations {
  x: Float32Array;
  xq?: Q8Rows;
  buffers: { x: GPUBuffer; xs?: GPUBuffer };
}

function activations(h: GpuKernelHarness, type: GgmlType, x: Float32Array, cols: number): Activations {
  const act = requireFormat(type).activation;
  if (act === 'f32') return { x, buffers: { x: h.buffer(x) } };
  if (!isQ8(act)) return { x, buffers: { x: h.buffer(Float32Array.from(activationAsSeen(act, x).values)) } }; // f16 / bf16-rounded
  const xq = quantizeQ8Ref(act, x, cols, x.length / cols);
  return { x, xq, buffers: { x: h.buffer(new Uint8Array(xq.qs.buffer)), xs: h.buffer(xq.sums) } };
}

function destroy(a: Activations): void {
  a.buffers.x.destroy();
  a.buffers.xs?.destroy();
}

interface Gather {
  rowmap: Uint32Array;
  counts: Uint32Array;
  args: Uint32Array;
  list_stride: number;
  gather_div: number;
  /** 0: up/gate dispatch triple, 1: down. */
  argsSlot: 0 | 1;
}

interface MatmulRun {
  m: TestMatrix;
  boundaries: number[];
  act: Activations;
  y_stride: number;
  yInit: Float32Array;
  mode: { kind: 'tokens'; n_tokens: number } | { kind: 'logits'; logits_start: number; n_logits: number } | { kind: 'gather'; n_expert: number; g: Gather; experts: TestMatrix[] };
}

/** Records one call per shard (per expert in gather mode), submits them in one pass and reads y back. */
async function runMatmul(h: GpuKernelHarness, r: MatmulRun): Promise<Float32Array> {
  const owned: GPUBuffer[] = [];
  const keep = <T extends GPUBuffer>(b: T) => (owned.push(b), b);
  try {
    const y = keep(h.buffer(r.yInit));
    const dummy = keep(h.buffer({ bytes: 16 }));
    const mode = r.mode;
    const rowmap = mode.kind === 'gather' ? keep(h.buffer(mode.g.rowmap)) : dummy;
    const counts = mode.kind === 'gather' ? keep(h.buffer(mode.g.counts)) : dummy;
    const args = mode.kind === 'gather' ? keep(h.buffer(mode.g.args)) : undefined;
    const matrices = mode.kind === 'gather' ? mode.experts : [r.m];
    const calls: KernelCall[] = [];
    matrices.forEach((m, e) => {
      for (const s of shardMatrix(m, r.boundaries)) {
        const params = [
          m.cols,
          s.rows,
          r.y_stride,
          s.rowStart,
          m.cols,
          mode.kind === 'tokens' ? 0 : mode.kind === 'logits' ? 1 : 2,
          mode.kind === 'gather' ? mode.g.gather_div : 1,
          mode.kind === 'gather' ? e * mode.g.list_stride : 0,
          mode.kind === 'gather' ? e : 0,
          ...planeWords(s.planeOffsets),
        ];
        const w = keep(h.buffer(s.bytes));
        // kernels.ts MATMUL_BINDINGS: the shard at 2 and 8, q8 block words at 7
        const bindings: KernelCall['bindings'] = { 2: w, 3: r.act.buffers.x, 4: y, 5: rowmap, 6: counts, 7: r.act.buffers.xs ?? dummy, 8: w };
        const n = mode.kind === 'tokens' ? mode.n_tokens : mode.kind === 'logits' ? mode.n_logits : 0;
        calls.push({
          kernel: matmulKernel(requireFormat(m.type)),
          step: mode.kind === 'tokens' ? { n_tokens: mode.n_tokens } : mode.kind === 'logits' ? { n_tokens: 1, logits_start: mode.logits_start, n_logits: mode.n_logits } : { n_tokens: 1 },
          params,
          bindings,
          // graph-builder.ts: [ceil(rows / (4 WG)), ceil(tokens / 4)], or the expert's indirect triple
          dispatch: mode.kind === 'gather' ? { indirect: args!, offset: (e * 6 + mode.g.argsSlot * 3) * 4 } : [Math.ceil(s.rows / (4 * WG)), Math.ceil(n / 4), 1],
        });
      }
    });
    const { dispose } = await h.submit(calls);
    dispose();
    return new Float32Array(await h.read(y, r.yInit.byteLength));
  } finally {
    for (const b of owned) b.destroy();
  }
}

/** The reference for the same run: every shard (every expert) in turn. */
function reference(r: MatmulRun): { y: Float64Array; magnitude: Float64Array } {
  let y: ArrayLike<number> = r.yInit;
  const magnitude = new Float64Array(r.yInit.length);
  const mode = r.mode;
  const matrices = mode.kind === 'gather' ? mode.experts : [r.m];
  matrices.forEach((m, e) => {
    const cuts = [0, ...r.boundaries.filter((b) => b > 0 && b < m.rows), m.rows];
    for (let i = 0; i + 1 < cuts.length; i++) {
      const rowStart = cuts[i]!;
      const rows = cuts[i + 1]! - rowStart;
      const refMode: MatmulModeRef =
        mode.kind === 'gather'
          ? { kind: 'gather', rowmap: mode.g.rowmap, list_offset: e * mode.g.list_stride, count: mode.g.counts[e]!, gather_div: mode.g.gather_div }
          : mode;
      const out = matmulRef({
        type: m.type,
        weights: m.values.subarray(rowStart * m.cols, (rowStart + rows) * m.cols),
        blockMins: minsOf(m, rowStart, rows),
        rows,
        cols: m.cols,
        x: r.act.x,
        x_stride: m.cols,
        xq: r.act.xq,
        y,
        y_stride: r.y_stride,
        y_col_offset: rowStart,
        mode: refMode,
      });
      y = out.y;
      out.magnitude.forEach((v, j) => v && (magnitude[j] = v));
    }
  });
  return { y: y as Float64Array, magnitude };
}

function checkRun(got: Float32Array, r: MatmulRun, what: string): void {
  const ref = reference(r);
  // Elements the matmul does not write keep yInit exactly (magnitude 0 → bound 0 + 1e-30).
  assertClose(got, ref.y, { rtol: rtolOf(r.m.type), atol: 1e-30, scale: ref.magnitude, what });
}

const SENTINEL = -5.5;

for (const type of WEIGHT_TYPES) {
  const name = ggmlTypeName(type);
  const C = (cols: number) => colsFor(type, cols);

  kernelTest(`matmul ${name} mode 0 (token rows): rows 13..300 (not multiples of 4), n_tokens 1..70, row shards at y_col_offset, typical and wild blocks`, async (h) => {
    const rnd = seeded(90 + type);
    const cases: { rows: number; cols: number; n_tokens: number; boundaries: number[]; y_stride: number; style?: BlockStyle }[] = [
      { rows: 37, cols: C(64), n_tokens: 1, boundaries: [], y_stride: 37 },
      { rows: 64, cols: C(128), n_tokens: 3, boundaries: [20], y_stride: 64 }, // a shard starting mid-tile
      { rows: 13, cols: C(256), n_tokens: 5, boundaries: [], y_stride: 16 }, // y wider than W's rows
      { rows: 130, cols: C(4096), n_tokens: 17, boundaries: [64, 129], y_stride: 130 }, // 1-row last shard
      { rows: 67, cols: C(96), n_tokens: 70, boundaries: [33], y_stride: 67 },
      { rows: 300, cols: C(32), n_tokens: 6, boundaries: [256], y_stride: 300 }, // more than one workgroup of rows
      { rows: 21, cols: C(512), n_tokens: 4, boundaries: [8], y_stride: 21, style: 'wild' }, // every bit of the blocks random
      { rows: 9, cols: C(768), n_tokens: 1, boundaries: [], y_stride: 9, style: 'wild' },
    ];
    for (const c of cases) {
      const m = randomMatrix(type, c.rows, c.cols, rnd, 1, c.style);
      const x = randn((c.n_tokens + 1) * c.cols, rnd); // one row past the step: must not be used
      const act = activations(h, type, x, c.cols);
      try {
        const r: MatmulRun = { m, boundaries: c.boundaries, act, y_stride: c.y_stride, yInit: new Float32Array((c.n_tokens + 1) * c.y_stride).fill(SENTINEL), mode: { kind: 'tokens', n_tokens: c.n_tokens } };
        checkRun(await runMatmul(h, r), r, `${name} ${JSON.stringify(c)}`);
      } finally {
        destroy(act);
      }
    }
  });

  kernelTest(`matmul ${name} mode 1 (logits rows from logits_start): n_logits 1/3/70, a 70001-row output matrix`, async (h) => {
    const rnd = seeded(100 + type);
    const cases = [
      { rows: 70001, cols: C(32), x_rows: 5, logits_start: 4, n_logits: 1, boundaries: [40000] }, // vocabulary > 65535 rows
      { rows: 1000, cols: C(128), x_rows: 9, logits_start: 2, n_logits: 3, boundaries: [] },
      { rows: 37, cols: C(64), x_rows: 72, logits_start: 1, n_logits: 70, boundaries: [12] },
    ];
    for (const c of cases) {
      const m = randomMatrix(type, c.rows, c.cols, rnd);
      const act = activations(h, type, randn(c.x_rows * c.cols, rnd), c.cols);
      try {
        const r: MatmulRun = {
          m,
          boundaries: c.boundaries,
          act,
          y_stride: c.rows,
          yInit: new Float32Array((c.n_logits + 1) * c.rows).fill(SENTINEL),
          mode: { kind: 'logits', logits_start: c.logits_start, n_logits: c.n_logits },
        };
        checkRun(await runMatmul(h, r), r, `${name} ${JSON.stringify(c)}`);
      } finally {
        destroy(act);
      }
    }
  });

  kernelTest(`matmul ${name} mode 2 (gathered expert slots, indirect dispatch): up/gate (x per token) and down (x per slot), n_tokens 1..70`, async (h) => {
    const rnd = seeded(110 + type);
    const cases = [
      { n_tokens: 1, n_expert: 4, k: 2, rows: 37, cols: C(64) },
      { n_tokens: 5, n_expert: 8, k: 2, rows: 64, cols: C(128) },
      { n_tokens: 17, n_expert: 8, k: 4, rows: 13, cols: C(96) },
      { n_tokens: 70, n_expert: 6, k: 2, rows: 45, cols: C(64) },
    ];
    for (const c of cases) {
      const list_stride = c.n_tokens + 3; // maxTokens
      // Distinct experts per token; expert n_expert - 1 never chosen (its dispatch must be empty).
      const ids = new Uint32Array(c.n_tokens * c.k);
      for (let t = 0; t < c.n_tokens; t++) {
        const pool = Array.from({ length: c.n_expert - 1 }, (_, e) => e);
        for (let j = 0; j < c.k; j++) ids[t * c.k + j] = pool.splice(Math.floor(rnd() * pool.length), 1)[0]!;
      }
      const experts = Array.from({ length: c.n_expert }, () => randomMatrix(type, c.rows, c.cols, rnd));
      for (const [argsSlot, perSlot] of [
        [0, false],
        [1, true],
      ] as const) {
        const grp = moeGroupRef(ids, c.n_tokens, c.k, c.n_expert, list_stride, Math.ceil(c.rows / (4 * WG)), Math.ceil(c.rows / (4 * WG)));
        const g: Gather = { rowmap: grp.lists, counts: grp.counts, args: grp.args, list_stride, gather_div: perSlot ? 1 : c.k, argsSlot };
        const xRows = perSlot ? c.n_tokens * c.k : c.n_tokens;
        const act = activations(h, type, randn(xRows * c.cols, rnd), c.cols);
        try {
          const r: MatmulRun = {
            m: experts[0]!,
            boundaries: c.rows > 20 ? [16] : [],
            act,
            y_stride: c.rows,
            yInit: new Float32Array((c.n_tokens * c.k + 1) * c.rows).fill(SENTINEL),
            mode: { kind: 'gather', n_expert: c.n_expert, g, experts },
          };
          const got = await runMatmul(h, r);
          checkRun(got, r, `${name} ${perSlot ? 'down' : 'up'} ${JSON.stringify(c)}`);
          assert.ok(got.subarray(0, c.n_tokens * c.k * c.rows).every((v) => v !== SENTINEL), 'every slot written');
        } finally {
          destroy(act);
        }
      }
    }
  });
}
