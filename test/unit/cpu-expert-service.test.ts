/**
 * The CPU expert service (daemon/cpu/expert-service.ts: worker ranks, host expert cache read from the GGUF
 * on demand) against a float64 reference of the expert FFN (dequantised slabs; silu or gelu; down), on
 * generated models: F32 within 1e-4 relative, Q8_0 (activations quantised to Q8_0 as ggml does) within 3e-2
 * of the output's scale. Also: a host cache of one expert (every task of a job in its own batch, experts
 * evicted and read again), 1 to 3 ranks (3: a rank with no share of the width), bad rows refused; a start that
 * fails in its ranks leaves no rank running.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { test } from 'node:test';
import { CpuExpertService, type ExpertTask } from '../../daemon/cpu/expert-service.js';
import { requireFormat } from '../../daemon/formats/table.js';
import { openGguf, type GgufFile } from '../../daemon/gguf/gguf-reader.js';
import { readModelConfig, type ModelConfig } from '../../daemon/model/hparams.js';
import { modelWeights, type ModelWeights } from '../../daemon/model/model-weights.js';
import type { WeightHandle } from '../../daemon/model/weights.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';
import { seeded, randn } from '../kernels/kernel-test-utils.js';

async function slab(file: GgufFile, h: WeightHandle): Promise<Float64Array> {
  const t = file.tensorByName.get(h.tensor)!;
  const f = requireFormat(h.type);
  const rowBytes = (h.cols / f.blockSize) * f.typeSize;
  const bytes = await file.read(t.offset + (h.expert ?? 0) * h.rows * rowBytes, h.rows * rowBytes);
  const out = new Float32Array(h.rows * h.cols);
  f.dequantize(bytes, (h.rows * h.cols) / f.blockSize, out, 0);
  return Float64Array.from(out);
}

function matvec(w: Float64Array, rows: number, cols: number, x: ArrayLike<number>): Float64Array {
  const y = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    for (let c = 0; c < cols; c++) acc += w[r * cols + c]! * x[c]!;
    y[r] = acc;
  }
  return y;
}

const gelu = (x: number) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
const silu = (x: number) => x / (1 + Math.exp(-x));

async function reference(file: GgufFile, cfg: ModelConfig, w: ModelWeights, il: number, e: number, x: ArrayLike<number>): Promise<Float64Array> {
  const ex = w.layers[il]!.experts!;
  const [g, u, d] = await Promise.all([slab(file, ex.gate[e]!), slab(file, ex.up[e]!), slab(file, ex.down[e]!)]);
  const nf = ex.up[e]!.rows;
  const gv = matvec(g, nf, cfg.n_embd, x);
  const uv = matvec(u, nf, cfg.n_embd, x);
  const act = cfg.ffn_act === 'gelu' ? gelu : silu;
  const h = gv.map((v, i) => act(v) * uv[i]!);
  return matvec(d, cfg.n_embd, nf, h);
}

async function check(spec: ModelSpecInput, opts: { threads: number; hostCacheBytes: number; tol: number }): Promise<CpuExpertService['stats']> {
  const path = await ensureModel(spec);
  const file = await openGguf(path);
  const cfg = readModelConfig(file);
  const w = modelWeights(file, cfg);
  const svc = await CpuExpertService.start(file, cfg, w, [0, 1], { threads: opts.threads, hostCacheBytes: opts.hostCacheBytes, maxTokens: 8 });
  try {
    const rnd = seeded(7);
    const nX = 5;
    const x = randn(nX * cfg.n_embd, rnd);
    for (const il of [0, 1, 0]) {
      const tasks: ExpertTask[] = [
        { expert: 3, rows: [0, 2, 4] },
        { expert: 0, rows: [1] },
        { expert: 7, rows: [4, 3, 2, 1, 0] },
      ];
      const out = await svc.run(il, x, nX, tasks);
      let row = 0;
      for (const t of tasks) {
        for (const r of t.rows) {
          const ref = await reference(file, cfg, w, il, t.expert, x.subarray(r * cfg.n_embd, (r + 1) * cfg.n_embd));
          const got = out.subarray(row * cfg.n_embd, (row + 1) * cfg.n_embd);
          const scale = Math.max(...ref.map(Math.abs));
          let worst = 0;
          ref.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - got[i]!))));
          assert.ok(worst <= opts.tol * scale, `${spec.arch} ${spec.weightType} layer ${il} expert ${t.expert} row ${r}: max error ${worst} > ${opts.tol} × ${scale}`);
          row++;
        }
      }
    }
    await assert.rejects(svc.run(0, x, nX, [{ expert: 1, rows: [nX] }]), /outside/);
    return { ...svc.stats };
  } finally {
    await svc.dispose();
    await file.close();
  }
}

test('CPU expert service: qwen3moe F32, 2 ranks, whole cache: each expert read once', async () => {
  const s = await check({ arch: 'qwen3moe', weightType: 'F32' }, { threads: 2, hostCacheBytes: 1 << 30, tol: 1e-4 });
  assert.equal(s.loads, 6, 'three experts of two layers, each read once');
  assert.equal(s.hits, 3, 'layer 0 again: all three cached');
});

test('CPU expert service: grok (GELU) Q8_0, 3 ranks (one holds no width), a one-expert cache', async () => {
  const s = await check({ arch: 'grok', weightType: 'Q8_0' }, { threads: 3, hostCacheBytes: 1, tol: 3e-2 });
  assert.equal(s.slots, 1);
  assert.equal(s.loads, 9, 'every task reads its expert again');
});

test('CPU expert service: qwen2moe Q4_0, 1 rank', async () => {
  await check({ arch: 'qwen2moe', weightType: 'Q4_0' }, { threads: 1, hostCacheBytes: 1 << 20, tol: 3e-2 });
});

/** Threads of this process (worker threads are OS threads of it). */
function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

test('a start that fails in its ranks ends every rank before it rejects, and the next start works', async (t) => {
  if (!existsSync('/proc/self/task')) return t.skip('needs /proc/self/task (Linux) to count threads');
  const path = await ensureModel({ arch: 'qwen3moe', weightType: 'F32' });
  const file = await openGguf(path);
  try {
    const cfg = readModelConfig(file);
    const w = modelWeights(file, cfg);
    // layer 0's experts disagree on their type: every rank refuses the layer while it plans its memory
    const ex = w.layers[0]!.experts!;
    const broken: ModelWeights = { ...w, layers: w.layers.map((l, il) => (il === 0 ? { ...l, experts: { ...ex, down: ex.down.map((h, i) => (i === 1 ? { ...h, type: 1 } : h)) } } : l)) };
    const before = threadCount();
    await assert.rejects(CpuExpertService.start(file, cfg, broken, [0, 1], { threads: 3, hostCacheBytes: 1 << 20, maxTokens: 8 }), /experts of one layer differ/);
    assert.equal(threadCount(), before, 'no rank of the failed start is still running');
    const svc = await CpuExpertService.start(file, cfg, w, [0, 1], { threads: 2, hostCacheBytes: 1 << 20, maxTokens: 8 });
    await svc.dispose();
    assert.equal(threadCount(), before, 'dispose ends the ranks');
  } finally {
    await file.close();
  }
});
