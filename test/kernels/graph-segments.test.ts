/**
 * A forward step as segments: GPU pass | host work | GPU pass (graph-builder.ts HostOp, graph-runner.ts).
 * On a real model graph, a host op inserted after the embedding reads the residual stream back, changes
 * it on the host and writes it back; the logits must equal those of a graph that makes the same change
 * on the GPU (an exact f32 negation), bit for bit — so the host op saw everything the first segment
 * wrote, and the second segment saw the host's write. A round trip that changes nothing must leave the
 * logits bit-identical too, and several host ops in one step must each run once per step, in order.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createGpu, type Gpu } from '../../daemon/gpu/device.js';
import { GraphBuilder } from '../../daemon/gpu/graph-builder.js';
import { GraphRunner } from '../../daemon/gpu/graph-runner.js';
import { KernelRegistry } from '../../daemon/gpu/kernels.js';
import { WeightStore } from '../../daemon/gpu/weight-store.js';
import { openGguf, type GgufFile } from '../../daemon/gguf/gguf-reader.js';
import { ARCHITECTURES } from '../../daemon/model/architectures.js';
import type { Act, ForwardOps } from '../../daemon/model/forward-ops.js';
import { readModelConfig, type ModelConfig } from '../../daemon/model/hparams.js';
import { allMatrices, allVectors, modelWeights, type ModelWeights } from '../../daemon/model/model-weights.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

type Change = 'none' | 'negate-on-gpu' | 'negate-on-host' | 'round-trip' | 'two-host-ops';

let gpu: Gpu | undefined;
let unavailable: string | undefined;

async function device(t: TestContext): Promise<Gpu | undefined> {
  if (!gpu && !unavailable) {
    try {
      gpu = await createGpu();
    } catch (e) {
      unavailable = `no WebGPU adapter: ${(e as Error).message}`;
    }
  }
  if (unavailable) t.skip(unavailable);
  return gpu;
}

/** Reads `bytes` of a GPU buffer back to the host. */
async function readBuffer(g: Gpu, src: GPUBuffer, bytes: number): Promise<Float32Array<ArrayBuffer>> {
  const staging = g.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const enc = g.device.createCommandEncoder();
  enc.copyBufferToBuffer(src, 0, staging, 0, bytes);
  g.device.queue.submit([enc.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return out;
}

/** The model's graph, with `change` applied to the residual stream right after the embedding. */
async function logitsWith(g: Gpu, file: GgufFile, cfg: ModelConfig, w: ModelWeights, tokens: number[], change: Change, trace: string[]): Promise<Float32Array> {
  const store = new WeightStore(g.device, file, g.maxBindingBytes);
  for (const v of allVectors(w)) await store.vector(v);
  for (const m of allMatrices(w)) await store.matrix(m);
  const n = tokens.length;
  const graph = new GraphBuilder(
    g.device,
    new KernelRegistry(g.device),
    { maxTokens: n, nCtx: 64, nSlots: 1, maxLogitRows: n, rope: cfg.rope, geluF16: true },
    store,
  );
  // a ForwardOps that forwards everything, adding the change after the first embed()
  const ops = new Proxy(graph as ForwardOps, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (prop !== 'embed' || typeof v !== 'function') return typeof v === 'function' ? v.bind(target) : v;
      return (table: Parameters<ForwardOps['embed']>[0], out: Act, scale: number) => {
        graph.embed(table, out, scale);
        const bytes = n * out.cols * 4;
        const host = async (negate: boolean, label: string) => {
          trace.push(label);
          const x = await readBuffer(g, graph.actBuffer(out), bytes);
          if (negate) for (let i = 0; i < x.length; i++) x[i] = -x[i]!;
          g.device.queue.writeBuffer(graph.actBuffer(out), 0, x);
        };
        if (change === 'negate-on-gpu') graph.scale(out, -1);
        if (change === 'negate-on-host') graph.host('negate residual', () => host(true, 'negate'));
        if (change === 'round-trip') graph.host('residual round trip', () => host(false, 'round trip'));
        if (change === 'two-host-ops') {
          graph.host('first', () => host(true, 'first'));
          graph.host('second', () => host(true, 'second'));
        }
      };
    },
  });
  ARCHITECTURES[cfg.arch](ops, cfg, w);
  const runner = new GraphRunner(graph);
  try {
    return await runner.stepAndReadLogits({ n_tokens: n, pos_start: 0, n_kv: n, logits_start: 0, n_logits: n, kv_base: 0, seed: 0, sample_index: 0 }, tokens);
  } finally {
    runner.destroy();
    graph.destroy();
    store.destroy();
  }
}

function assertSameBits(a: Float32Array, b: Float32Array, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  const i = ua.findIndex((v, j) => v !== ub[j]);
  assert.ok(i < 0, `${what}: logit ${i} is ${a[i]} vs ${b[i]}`);
}

test('a host op between GPU segments sees the first segment and is seen by the second (bit-exact logits)', async (t) => {
  const g = await device(t);
  if (!g) return;
  const file = await openGguf(await ensureModel({ arch: 'qwen2moe', weightType: 'Q8_0' }));
  try {
    const cfg = readModelConfig(file);
    const w = modelWeights(file, cfg);
    const tokens = [3, 14, 15, 92, 65, 35];
    const trace: string[] = [];
    const plain = await logitsWith(g, file, cfg, w, tokens, 'none', trace);
    const roundTrip = await logitsWith(g, file, cfg, w, tokens, 'round-trip', trace);
    assertSameBits(roundTrip, plain, 'a round trip through the host');
    const onGpu = await logitsWith(g, file, cfg, w, tokens, 'negate-on-gpu', trace);
    const onHost = await logitsWith(g, file, cfg, w, tokens, 'negate-on-host', trace);
    assertSameBits(onHost, onGpu, 'negated on the host vs on the GPU');
    assert.ok(onGpu.some((v, i) => v !== plain[i]), 'the negation changes the logits (else the test proves nothing)');
    // two host ops negate twice: the plain logits again, each op once per step, in order
    trace.length = 0;
    const twice = await logitsWith(g, file, cfg, w, tokens, 'two-host-ops', trace);
    assert.deepEqual(trace, ['first', 'second']);
    assertSameBits(twice, plain, 'two negations');
  } finally {
    await file.close();
  }
});

test.after(() => gpu?.destroy());
