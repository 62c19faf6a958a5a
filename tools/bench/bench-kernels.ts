/**
 * Kernel micro-benchmark: each matmul kernel on one [rows, cols] weight for a few token counts, timed over
 * repeated dispatches in one submit, reported as ms per dispatch, GB/s of weights read and GMAC/s.
 *   node --import tsx tools/bench/bench-kernels.ts [--rows 2048] [--cols 2048] [--tokens 1,4,32] [--reps 10]
 */
import { parseArgs } from 'node:util';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { quantizeRow } from '../../daemon/gguf/quantize.js';
import { createGpu } from '../../daemon/gpu/device.js';
import { KernelRegistry, packParams, packStep, type KernelName } from '../../daemon/gpu/kernels.js';
import { planShards, repackRows, rowLayout } from '../../daemon/gpu/weight-layout.js';

const { values } = parseArgs({
  options: { rows: { type: 'string', default: '2048' }, cols: { type: 'string', default: '2048' }, tokens: { type: 'string', default: '1,4,32' }, reps: { type: 'string', default: '10' } },
});
const rows = Number(values.rows);
const cols = Number(values.cols);
const reps = Number(values.reps);
const tokenCounts = values.tokens!.split(',').map(Number);

const KERNEL: Record<number, KernelName> = { [GgmlType.F32]: 'matmul_f32', [GgmlType.F16]: 'matmul_f16', [GgmlType.Q8_0]: 'matmul_q8_0', [GgmlType.Q4_0]: 'matmul_q4_0' };

async function main() {
  const gpu = await createGpu();
  const d = gpu.device;
  const kernels = new KernelRegistry(d);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST;
  const mk = (bytes: number) => d.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
  const maxT = Math.max(...tokenCounts);
  const x = mk(maxT * cols * 4);
  d.queue.writeBuffer(x, 0, Float32Array.from({ length: maxT * cols }, () => Math.random() - 0.5));
  const y = mk(maxT * rows * 4);
  const xq = mk(maxT * cols);
  const xd = mk((maxT * cols) / 8);
  const dummy = mk(16);
  console.log(`matmul [${rows} x ${cols}], ${reps} dispatches per measurement`);
  console.log('type   tokens   ms/dispatch   weight GB/s   GMAC/s');
  for (const type of [GgmlType.F32, GgmlType.F16, GgmlType.Q8_0, GgmlType.Q4_0]) {
    const layout = rowLayout(type, cols);
    const [plan] = planShards(type, rows, cols, 1 << 30);
    const src = new Uint8Array(rows * layout.fileRowBytes);
    const row = Float32Array.from({ length: cols }, () => Math.random() - 0.5);
    const enc = type === GgmlType.F32 ? new Uint8Array(row.buffer) : quantizeRow(type, row);
    for (let r = 0; r < rows; r++) src.set(enc, r * layout.fileRowBytes);
    const data = new Uint8Array(rows * layout.dataRowBytes);
    const scales = new Uint8Array(Math.ceil((rows * layout.scaleRowBytes) / 4) * 4);
    repackRows(type, cols, rows, src, data, scales);
    const w = mk(plan.bytes);
    d.queue.writeBuffer(w, 0, data);
    if (scales.length) d.queue.writeBuffer(w, plan.scalesOffset, scales);
    const quant = type === GgmlType.Q8_0 || type === GgmlType.Q4_0;
    const pipeline = kernels.pipeline(KERNEL[type]);
    for (const T of tokenCounts) {
      const step = d.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      d.queue.writeBuffer(step, 0, packStep({ n_tokens: T, pos_start: 0, n_kv: T, logits_start: 0, n_logits: T, kv_base: 0, seed: 0, sample_index: 0 }));
      const params = d.createBuffer({ size: 48, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      d.queue.writeBuffer(params, 0, packParams([cols, rows, rows, 0, cols, 0, 1, 0, 0, plan.scalesOffset / 4]));
      const entries: GPUBindGroupEntry[] = [
        { binding: 0, resource: { buffer: step } },
        { binding: 1, resource: { buffer: params } },
        { binding: 2, resource: { buffer: w } },
        { binding: 3, resource: { buffer: quant ? xq : x } },
        { binding: 4, resource: { buffer: y } },
        { binding: 5, resource: { buffer: dummy } },
        { binding: 6, resource: { buffer: dummy } },
      ];
      if (quant) entries.push({ binding: 7, resource: { buffer: xd } });
      const bg = d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
      const run = async (n: number) => {
        const e = d.createCommandEncoder();
        const p = e.beginComputePass();
        p.setPipeline(pipeline);
        p.setBindGroup(0, bg);
        for (let i = 0; i < n; i++) p.dispatchWorkgroups(Math.ceil(rows / 256), Math.ceil(T / 4), 1);
        p.end();
        d.queue.submit([e.finish()]);
        await d.queue.onSubmittedWorkDone();
      };
      await run(1);
      const t0 = performance.now();
      await run(reps);
      const ms = (performance.now() - t0) / reps;
      const bytes = rows * (layout.dataRowBytes + layout.scaleRowBytes);
      console.log(
        `${GgmlType[type].padEnd(6)} ${String(T).padStart(6)}   ${ms.toFixed(2).padStart(11)}   ${(bytes / ms / 1e6).toFixed(2).padStart(11)}   ${((rows * cols * T) / ms / 1e6).toFixed(2).padStart(6)}`,
      );
    }
  }
  gpu.destroy();
}

main();
