/**
 * The arithmetic of `npm run bench:grok` (tools/bench/grok-plan.ts, grok-report.ts): Grok-1's bytes per
 * class at 64 layers against sums written out from its shapes, the bytes a decode step reads, the tiered
 * bandwidth model on hand-checkable profiles, and the split of measured slice times into layers and head.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { activeBytesPerToken, estimateDecode, GB, grokPlan, STATED_PROFILES, thisMachineProfile, type HardwareProfile } from '../../tools/bench/grok-plan.js';
import { budgetTable, extrapolateMeasured, measuredTable, median, profileTable, sliceTimes } from '../../tools/bench/grok-report.js';
import type { GrokChildResult } from '../../tools/bench/bench-grok-child.js';

const E = 6144;
const V = 131072;
const F = 32768;
const L = 64;
const q4 = (n: number) => (n / 32) * 18;
const q8 = (n: number) => (n / 32) * 34;

const close = (a: number, b: number, rel = 1e-9) => assert.ok(Math.abs(a - b) <= rel * Math.abs(b), `${a} vs ${b}`);

describe("Grok-1's memory plan", () => {
  for (const [type, bytes] of [['Q4_0', q4], ['Q8_0', q8]] as const) {
    test(`${type}: bytes per class at 64 layers, from the shapes`, () => {
      const p = grokPlan(type);
      const attention = L * bytes(2 * E * E + 2 * E * 1024);
      const experts = L * 3 * bytes(E * F * 8);
      const embeddings = bytes(V * E);
      const router = L * E * 8 * 4;
      const norms = (4 * L + 1) * E * 4;
      assert.equal(p.byClass.attention, attention);
      assert.equal(p.byClass.experts, experts);
      assert.equal(p.byClass.embeddings, embeddings);
      assert.equal(p.byClass.router, router);
      assert.equal(p.byClass.norms, norms);
      assert.equal(p.byClass.output, undefined, 'Grok-1 ties the output to the embedding');
      assert.equal(p.total, attention + experts + embeddings + router + norms);
      assert.equal(p.experts, experts);
      assert.equal(p.nonExpert, p.total - experts);
      assert.equal(p.expertBytes, 3 * bytes(E * F));
      assert.equal(p.headBytes, embeddings);
      assert.equal(p.embedRowBytes, bytes(E));
      assert.equal(p.kvBytesPerToken * 1024, 256 * 2 ** 20, '256 MiB of f16 K and V per 1k tokens');
    });
  }

  test('Grok-1 has ~315 B parameters; the Q4_0 plan is ~178 GB and Q8_0 ~335 GB', () => {
    const p = grokPlan('Q8_0');
    const f32 = (p.byClass.router ?? 0) + (p.byClass.norms ?? 0);
    const params = ((p.total - f32) / 34) * 32 + f32 / 4;
    close(params, 315_684_820_992);
    close(grokPlan('Q4_0').total / GB, 177.6, 1e-3);
    close(p.total / GB, 335.4, 1e-3);
  });

  test("the 2-layer untied plan is the slice file's tensor bytes", () => {
    const s = grokPlan('Q4_0', 2, false);
    assert.equal(s.total, 6_441_492_480);
    assert.equal(s.byClass.output, q4(V * E));
    assert.equal(s.headBytes, q4(V * E));
  });

  test('bytes read per decoded token', () => {
    const p = grokPlan('Q4_0');
    const a = activeBytesPerToken(p, 1024);
    assert.equal(a.experts, L * 2 * 3 * q4(E * F));
    assert.equal(a.head, q4(V * E));
    assert.equal(a.dense, L * (q4(2 * E * E + 2 * E * 1024) + E * 8 * 4 + 4 * E * 4) + E * 4 + q4(E));
    assert.equal(a.kv, 1024 * L * 2 * 8 * 128 * 2);
    assert.equal(a.total, a.experts + a.head + a.dense + a.kv);
    assert.equal(activeBytesPerToken(p, 0).kv, 0);
  });
});

function profile(over: Partial<HardwareProfile>): HardwareProfile {
  return {
    name: 'test',
    gpus: 0,
    gpuMemory: 0,
    gpuBandwidth: 0,
    gpuReserve: 0,
    hostMemory: 0,
    hostReserve: 0,
    hostBandwidth: 100 * GB,
    linkBandwidth: 10 * GB,
    diskBandwidth: 1 * GB,
    allReduceLatency: 0,
    assumptions: [],
    ...over,
  };
}

describe('decode estimates', () => {
  const p = grokPlan('Q4_0');
  const a = activeBytesPerToken(p, 1024);
  const kv = p.kvBytesPerToken * 1024;

  test('everything on 8 GPUs: active bytes over the aggregate bandwidth, plus two all-reduces per layer', () => {
    const e = estimateDecode(p, 1024, profile({ gpus: 8, gpuMemory: 80 * GB, gpuBandwidth: 1000 * GB, allReduceLatency: 1e-5 }));
    assert.equal(e.expertsOnGpu, 1);
    assert.equal(e.gpuHitRate, 1);
    assert.equal(e.expertsOnDisk, 0);
    close(e.secondsPerToken, a.total / (8000 * GB) + 2 * 64 * 1e-5);
    close(e.tokensPerSecond, 1 / e.secondsPerToken);
  });

  test('one GPU: the rest of the experts in host memory, computed on the CPU unless uploading is faster', () => {
    const hw = profile({ gpus: 1, gpuMemory: 24 * GB, gpuBandwidth: 1000 * GB, hostMemory: 500 * GB });
    const e = estimateDecode(p, 1024, hw);
    const g = (24 * GB - p.nonExpert - kv) / p.experts;
    close(e.expertsOnGpu, g);
    close(e.expertsInHost, 1 - g);
    assert.equal(e.expertsOnDisk, 0);
    assert.equal(e.hostExpertPath, 'cpu');
    close(e.secondsPerToken, (a.dense + a.head + a.kv + g * a.experts) / (1000 * GB) + ((1 - g) * a.experts) / (100 * GB));
    const upload = estimateDecode(p, 1024, { ...hw, linkBandwidth: 200 * GB });
    assert.equal(upload.hostExpertPath, 'upload');
    close(upload.seconds.host, ((1 - g) * a.experts) / (200 * GB));
  });

  test('experts that fit nowhere are read from disk', () => {
    const e = estimateDecode(p, 1024, profile({ gpus: 1, gpuMemory: 24 * GB, gpuBandwidth: 1000 * GB, hostMemory: 100 * GB, hostReserve: 10 * GB }));
    const g = (24 * GB - p.nonExpert - kv) / p.experts;
    const h = (90 * GB) / p.experts;
    close(e.expertsInHost, h);
    close(e.expertsOnDisk, 1 - g - h);
    close(e.seconds.disk, ((1 - g - h) * a.experts) / GB);
  });

  test('no GPU: non-expert weights and as many experts as fit in RAM, the rest from disk', () => {
    const e = estimateDecode(p, 1024, profile({ hostMemory: 24 * GB, hostReserve: 4 * GB }));
    const r = (20 * GB - p.nonExpert - kv) / p.experts;
    close(e.expertsInHost, r);
    close(e.expertsOnDisk, 1 - r);
    assert.equal(e.gpuHitRate, 0);
    close(e.secondsPerToken, (a.dense + a.head + a.kv + r * a.experts) / (100 * GB) + ((1 - r) * a.experts) / GB);
    const all = estimateDecode(p, 1024, profile({ hostMemory: 400 * GB }));
    assert.equal(all.expertsOnDisk, 0);
    close(all.secondsPerToken, a.total / (100 * GB));
  });

  test('a GPU too small for the non-expert weights is reported, not estimated', () => {
    const e = estimateDecode(p, 1024, profile({ gpus: 1, gpuMemory: 2 * GB, gpuBandwidth: 1000 * GB, hostMemory: 500 * GB }));
    assert.match(e.doesNotFit ?? '', /exceed the GPU memory/);
    assert.equal(e.tokensPerSecond, 0);
    assert.match(profileTable([profile({ gpus: 1, gpuMemory: 2 * GB, gpuBandwidth: 1 })], ['Q4_0'], 1024), /does not fit/);
  });

  test('the stated profiles: Grok-1 Q4_0 fits eight 80 GB GPUs whole; Q8_0 spills to disk with one 24 GB GPU', () => {
    const [one, eight] = STATED_PROFILES;
    assert.equal(estimateDecode(grokPlan('Q4_0'), 1024, eight!).expertsOnGpu, 1);
    assert.equal(estimateDecode(grokPlan('Q8_0'), 1024, eight!).expertsOnGpu, 1);
    assert.equal(estimateDecode(grokPlan('Q4_0'), 1024, one!).expertsOnDisk, 0);
    assert.ok(estimateDecode(grokPlan('Q8_0'), 1024, one!).expertsOnDisk > 0.3);
    const m = thisMachineProfile(24 * GB, 12 * GB, 1 * GB, 2);
    assert.ok(estimateDecode(grokPlan('Q4_0'), 1024, m).expertsOnDisk > 0.8, 'this machine streams most experts from disk');
  });
});

describe('measured slice times', () => {
  const result = (over: Partial<GrokChildResult>): GrokChildResult => ({
    engine: 'moecode-cpu',
    device: 'CPU',
    nLayer: 2,
    loadMs: 1,
    promptTokens: 16,
    prefillMs: 3200,
    sampleMs: [100, 110, 105],
    feedMs: [80, 82, 81],
    feedSkipsHead: true,
    weightBytes: 0,
    engineBytes: 0,
    peakRssBytes: 0,
    ...over,
  });

  test('head = sampling step − feed step, per layer = feed step / layers; extrapolated to 64 layers', () => {
    const t = sliceTimes(result({}));
    assert.equal(t.stepMs, 105);
    assert.equal(t.layerMs, 40.5);
    assert.equal(t.headMs, 24);
    assert.equal(t.prefillLayerMsPerToken, 100);
    const x = extrapolateMeasured(t, 64);
    close(x.decodeTokPerS, 1000 / (64 * 40.5 + 24));
    close(x.prefillTokPerS, 1000 / 6400);
  });

  test("a backend whose feed step runs the head too: no head figure, the layers take the whole step", () => {
    const t = sliceTimes(result({ feedSkipsHead: false }));
    assert.ok(Number.isNaN(t.headMs));
    assert.equal(t.layerMs, 52.5);
    close(extrapolateMeasured(t, 64).decodeTokPerS, 1000 / (64 * 52.5));
  });

  test('median', () => {
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.ok(Number.isNaN(median([])));
  });

  test('the tables: read rate of a step, a failed engine, and the budgeted run\'s placement and cache counters', () => {
    const slice = () => grokPlan('Q4_0', 2, false);
    const bytes = activeBytesPerToken(slice(), 16).total;
    const text = measuredTable([
      { type: 'Q4_0', engine: 'moecode-cpu', result: result({ sampleMs: [bytes / 1e7] }) }, // a step at 10 GB/s
      { type: 'Q4_0', engine: 'llama.cpp', result: new Error('boom') },
    ], slice);
    assert.match(text, /moecode-cpu .* 10\.0 /);
    assert.match(text, /llama\.cpp +failed: boom/);
    assert.match(text, /moecode-cpu .* 5\.23 +- +40\.5 ms/, 'no ratio without a llama.cpp figure');
    // with llama.cpp's figures on the same type: our tok/s over theirs
    const ours = result({ sampleMs: [50], promptTokens: 16, prefillMs: 400 }); // decode 20 tok/s, prefill 40 tok/s
    const theirs = { engine: 'llama.cpp', device: 'CPU', loadMs: 1, peakRssBytes: 1, runs: [{ promptTokens: 16, ttftMs: 200, prefillTokPerS: 80, decodeTokens: 8, decodeMs: 320, decodeTokPerS: 25 }] };
    const vs = measuredTable([{ type: 'Q4_0', engine: 'moecode-cpu', result: ours }, { type: 'Q4_0', engine: 'llama.cpp', result: theirs }], slice);
    assert.match(vs, /x llama\.cpp \(prefill \/ decode\)/);
    assert.match(vs, /moecode-cpu .* 0\.50x \/ 0\.80x /);
    assert.match(vs, /llama\.cpp .* 1\.00x \/ 1\.00x /);
    const counters = { expertsOnGpu: 4, expertsTotal: 16, choices: 16, hits: 4, cpu: 10, uploaded: 2, predicted: 8, predictedRight: 6, uploadedBytes: 4 * 2 ** 20 * 8, uploads: 2, prefetches: 1, tokens: 4, hostLoads: 1, hostHits: 9, hostBytesRead: 0 };
    const placement = { budgetBytes: 2.2e9, gpuBytes: 2.2e9, minimumBytes: 1e9, expertsOnGpu: 4, expertsTotal: 16, hostCacheBytes: 4e9 };
    const b = budgetTable([{ type: 'Q4_0', engine: 'moecode-gpu-budget', result: result({ feedSkipsHead: false, placement, offload: counters }) }], { Q4_0: 6.45e9 });
    assert.match(b ?? '', /2\.20 GB +6\.45 GB +1\.00 GB +4 of 16 +4\.00 GB +25% of 16 +63% +13% +75% +8\.0 MiB/);
    assert.equal(budgetTable([{ type: 'Q4_0', engine: 'moecode-cpu', result: result({}) }], {}), undefined);
  });
});

