/**
 * Kernel micro-benchmark: the composed matmul kernel of each weight format on one [rows, cols] weight for a
 * few token counts, timed over repeated dispatches in one submit, reported as ms per dispatch, GB/s of
 * weights read (the GPU planes' bytes) and GMAC/s; plus the activation converters (q8 quantisers, f16 / bf16
 * rounding).
 *   node --import tsx tools/bench/bench-kernels.ts [--rows 2048] [--cols 2048] [--tokens 1,4,32] [--reps 10]
 *     [--types F32,Q4_0,Q4_K,...] [--rounds 1]
 * With --rounds N the formats are measured N times in turn (interleaved), and the best of the N is shown:
 * on a shared machine this is the figure least disturbed by other work.
 */
import { parseArgs } from 'node:util';
import { KNOWN_FORMATS, requireFormat } from '../../daemon/formats/table.js';
import type { TensorFormat } from '../../daemon/formats/format.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { quantizeRow } from '../../daemon/gguf/quantize.js';
import { GPU_ACTIVATIONS, q8Bytes } from '../../daemon/gpu/activations.js';
import { createGpu } from '../../daemon/gpu/device.js';
import { KernelRegistry, matmulKernel, packParams, packStep } from '../../daemon/gpu/kernels.js';
import { planeWords, planShards, repackRows, rowLayout } from '../../daemon/gpu/weight-layout.js';
import { Rng } from '../modelgen/prng.js';
import { RANDOM_BLOCKS, randomBlocks } from '../modelgen/random-blocks.js';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '2048' },
    cols: { type: 'string', default: '2048' },
    tokens: { type: 'string', default: '1,4,32' },
    reps: { type: 'string', default: '10' },
    types: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const rows = Number(values.rows);
const cols = Number(values.cols);
const reps = Number(values.reps);
const rounds = Number(values.rounds);
const tokenCounts = values.tokens!.split(',').map(Number);
const formats: TensorFormat[] = values.types
  ? values.types.split(',').map((n) => requireFormat(GgmlType[n as keyof typeof GgmlType]))
  : KNOWN_FORMATS.filter((f) => f.wgsl);

/** One row of `cols` values in format f (random valid blocks, or quantised Gaussian-ish values). */
function oneRow(f: TensorFormat, rng: Rng): Uint8Array {
  if (RANDOM_BLOCKS[f.type]) return randomBlocks(f.type, cols, 0.05, rng);
  const row = Float32Array.from({ length: cols }, () => rng.uniform() - 0.5);
  return f.type === GgmlType.F32 ? new Uint8Array(row.buffer) : quantizeRow(f.type, row);
}

async function main() {
  const gpu = await createGpu();
  const d = gpu.device;
  const kernels = new KernelRegistry(d);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const mk = (bytes: number) => d.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
  const maxT = Math.max(...tokenCounts);
  const rng = new Rng(1);
  const x = mk(maxT * cols * 4);
  d.queue.writeBuffer(x, 0, Float32Array.from({ length: maxT * cols }, () => rng.uniform() - 0.5));
  const y = mk(maxT * rows * 4);
  const xv = mk(maxT * cols * 4); // the largest converted copy: f16 / bf16-rounded f32
  const xs = mk(q8Bytes(maxT * cols).sums);
  const dummy = mk(16);
  const step = d.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });

  const run = async (pipeline: GPUComputePipeline, bg: GPUBindGroup, groups: [number, number], n: number) => {
    const e = d.createCommandEncoder();
    const p = e.beginComputePass();
    p.setPipeline(pipeline);
    p.setBindGroup(0, bg);
    for (let i = 0; i < n; i++) p.dispatchWorkgroups(groups[0], groups[1], 1);
    p.end();
    d.queue.submit([e.finish()]);
    await d.queue.onSubmittedWorkDone();
  };
  const setTokens = (T: number) => d.queue.writeBuffer(step, 0, packStep({ n_tokens: T, pos_start: 0, n_kv: T, logits_start: 0, n_logits: T, kv_base: 0, seed: 0, sample_index: 0 }));

  // weights and bind groups per format
  const cases = formats.map((f) => {
    const layout = rowLayout(f.type, cols);
    const [plan] = planShards(f.type, rows, cols, 1 << 30);
    const src = new Uint8Array(rows * layout.fileRowBytes);
    const row = oneRow(f, rng);
    for (let r = 0; r < rows; r++) src.set(row, r * layout.fileRowBytes);
    const planes = layout.planes.map((p) => new Uint8Array(Math.ceil((rows * p.rowBytes) / 4) * 4));
    repackRows(layout, rows, src, planes);
    const w = mk(plan!.bytes);
    planes.forEach((bytes, i) => d.queue.writeBuffer(w, plan!.planeOffsets[i]!, bytes));
    const act = GPU_ACTIVATIONS[f.activation];
    const params = d.createBuffer({ size: 48, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    d.queue.writeBuffer(params, 0, packParams([cols, rows, rows, 0, cols, 0, 1, 0, 0, ...planeWords(plan!.planeOffsets)]));
    const pipeline = kernels.pipeline(matmulKernel(f));
    const bg = d.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: step } },
        { binding: 1, resource: { buffer: params } },
        { binding: 2, resource: { buffer: w } },
        { binding: 3, resource: { buffer: act.converter ? xv : x } },
        { binding: 4, resource: { buffer: y } },
        { binding: 5, resource: { buffer: dummy } },
        { binding: 6, resource: { buffer: dummy } },
        { binding: 7, resource: { buffer: act.converter?.bytes(32).sums ? xs : dummy } },
        { binding: 8, resource: { buffer: w } },
      ],
    });
    const bytes = layout.planes.reduce((n, p) => n + p.rowBytes * rows, 0);
    return { f, pipeline, bg, bytes, best: new Map<number, number>() };
  });

  // the activation converters (fill xv / xs with real data for the matmuls, too)
  const converters = (['f16', 'bf16', 'q8_0', 'q8_1', 'q8_K'] as const).map((format) => {
    const q = GPU_ACTIVATIONS[format].converter!;
    const params = d.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    d.queue.writeBuffer(params, 0, packParams([cols, 1, 0]));
    const pipeline = kernels.pipeline(q.kernel, 'main', q.constants);
    const bg = d.createBindGroup({
      layout: pipeline.getBindGroupLayout(0),
      entries: [
        { binding: 0, resource: { buffer: step } },
        { binding: 1, resource: { buffer: params } },
        { binding: 2, resource: { buffer: x } },
        { binding: 3, resource: { buffer: xv } },
        ...(q.bytes(32).sums ? [{ binding: 4, resource: { buffer: xs } }] : []),
      ],
    });
    return { format, pipeline, bg, block: q.block, best: new Map<number, number>() };
  });
  await kernels.checkCompilation();

  for (let round = 0; round < rounds; round++) {
    for (const T of tokenCounts) {
      setTokens(T);
      for (const q of converters) {
        const groups: [number, number] = [Math.ceil((T * cols) / q.block / 64), 1];
        await run(q.pipeline, q.bg, groups, 1);
        const t0 = performance.now();
        await run(q.pipeline, q.bg, groups, reps);
        const ms = (performance.now() - t0) / reps;
        q.best.set(T, Math.min(q.best.get(T) ?? Infinity, ms));
      }
      for (const c of cases) {
        const groups: [number, number] = [Math.ceil(rows / 256), Math.ceil(T / 4)];
        await run(c.pipeline, c.bg, groups, 1);
        const t0 = performance.now();
        await run(c.pipeline, c.bg, groups, reps);
        const ms = (performance.now() - t0) / reps;
        c.best.set(T, Math.min(c.best.get(T) ?? Infinity, ms));
      }
    }
  }

  console.log(`matmul [${rows} x ${cols}], ${reps} dispatches per measurement, best of ${rounds} round(s)`);
  console.log('type     tokens   ms/dispatch   weight GB/s   GMAC/s');
  for (const c of cases) {
    for (const T of tokenCounts) {
      const ms = c.best.get(T)!;
      console.log(`${c.f.name.padEnd(8)} ${String(T).padStart(6)}   ${ms.toFixed(2).padStart(11)}   ${(c.bytes / ms / 1e6).toFixed(2).padStart(11)}   ${((rows * cols * T) / ms / 1e6).toFixed(2).padStart(6)}`);
    }
  }
  console.log(`\nactivation converters, [tokens x ${cols}]`);
  for (const q of converters) {
    for (const T of tokenCounts) console.log(`${q.format.padEnd(8)} ${String(T).padStart(6)}   ${q.best.get(T)!.toFixed(3).padStart(11)} ms`);
  }
  gpu.destroy();
}

main();
