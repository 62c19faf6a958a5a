/**
 * The graph's host ops (graph-builder.ts HostOp, graph-runner.ts segments) on the real device: a host op
 * reads what the GPU segment before it wrote (through its `prepare` copy into a readback buffer), writes
 * into a GPU buffer, and the segment after it computes from that; two host ops in a row; a host op that
 * throws fails the step and the next step runs. Checked against the same graph without host ops
 * (embedding scale 3 on the GPU vs ×3 on the host: the same f32 bits) and the embedding rows in the file.
 */
import assert from 'node:assert/strict';
import { GraphBuilder } from '../../daemon/gpu/graph-builder.js';
import { GraphRunner } from '../../daemon/gpu/graph-runner.js';
import { KernelRegistry, type StepParams } from '../../daemon/gpu/kernels.js';
import { WeightStore } from '../../daemon/gpu/weight-store.js';
import { openGguf, type GgufFile } from '../../daemon/gguf/gguf-reader.js';
import { dequantizeRow } from '../../daemon/gguf/quantize.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { modelWeights } from '../../daemon/model/model-weights.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { kernelTest } from '../helpers/gpu-harness.js';

const TOKENS = [5, 17, 2, 300];

function step(n: number): StepParams {
  return { n_tokens: n, pos_start: 0, n_kv: n, logits_start: 0, n_logits: n, kv_base: 0, seed: 0, sample_index: 0 };
}

/**
 * embed → [host ops] → logits. With `host`, the embedding runs at scale 1 and the host multiplies by 3
 * (in two host ops: ×1.5, then ×2); without, the GPU embeds at scale 3.
 */
async function build(device: GPUDevice, file: GgufFile, host: boolean, seen: Float32Array[], fail: { now: boolean }) {
  const cfg = readModelConfig(file);
  const w = modelWeights(file, cfg);
  const store = new WeightStore(device, file, 1 << 30);
  await store.matrix(w.tok_embd);
  await store.matrix(w.output);
  const g = new GraphBuilder(device, new KernelRegistry(device), { maxTokens: 8, nCtx: 16, nSlots: 1, maxLogitRows: 8, rope: { freqBase: 1e4, freqScale: 1, attnFactor: 1 }, geluF16: true }, store);
  const x = g.act('inp_embd', cfg.n_embd);
  g.embed(w.tok_embd, x, host ? 1 : 3);
  if (host) {
    const readback = device.createBuffer({ label: 'test_readback', size: 8 * cfg.n_embd * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const times = (factor: number, record: boolean) =>
      g.host(
        `x *= ${factor}`,
        async (s) => {
          if (fail.now) throw new Error('host op failed on purpose');
          const bytes = s.n_tokens * cfg.n_embd * 4;
          await readback.mapAsync(GPUMapMode.READ, 0, bytes);
          const v = new Float32Array(readback.getMappedRange(0, bytes).slice(0));
          readback.unmap();
          if (record) seen.push(v.slice());
          for (let i = 0; i < v.length; i++) v[i] = Math.fround(v[i]! * factor);
          device.queue.writeBuffer(g.actBuffer(x), 0, v);
        },
        (enc, s) => enc.copyBufferToBuffer(g.actBuffer(x), 0, readback, 0, s.n_tokens * cfg.n_embd * 4),
      );
    times(1.5, true);
    times(2, false);
  }
  g.logits(x, w.output, 1);
  return { runner: new GraphRunner(g), cfg, done: () => (g.destroy(), store.destroy()) };
}

kernelTest('host ops: read the segment before, write for the segment after; a failing host op fails only its step', async (h) => {
  const file = await openGguf(await ensureModel({ arch: 'qwen3moe', weightType: 'F32' }));
  const fail = { now: false };
  const seen: Float32Array[] = [];
  const plain = await build(h.device, file, false, seen, fail);
  const split = await build(h.device, file, true, seen, fail);
  try {
    assert.equal(split.runner['graph'].ops.filter((o: object) => 'host' in o).length, 2);
    const want = await plain.runner.stepAndReadLogits(step(TOKENS.length), TOKENS);
    const got = await split.runner.stepAndReadLogits(step(TOKENS.length), TOKENS);
    assert.deepEqual(got, want, 'logits from host-scaled embeddings equal the GPU-scaled ones bit for bit');
    // what the first host op read: the embedding rows of the tokens, as in the file
    const t = file.tensorByName.get('token_embd.weight')!;
    const E = split.cfg.n_embd;
    const table = dequantizeRow(t.type, await file.read(t.offset, t.byteSize), t.nElements);
    assert.equal(seen.length, 1);
    TOKENS.forEach((tok, i) => assert.deepEqual(seen[0]!.subarray(i * E, (i + 1) * E), table.subarray(tok * E, (tok + 1) * E), `row of token ${tok}`));
    fail.now = true;
    await assert.rejects(split.runner.stepAndReadLogits(step(2), TOKENS.slice(0, 2)), /failed on purpose/);
    fail.now = false;
    const again = await split.runner.stepAndReadLogits(step(TOKENS.length), TOKENS);
    assert.deepEqual(again, want, 'the next step runs normally');
  } finally {
    plain.done();
    split.done();
    await file.close();
  }
});
