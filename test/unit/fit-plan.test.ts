/**
 * daemon/model/fit-plan.ts: slots × context chosen under the memory budget and the backend's limits,
 * from a real model's config (a generated GGUF whose training context is 32768): the automatic context,
 * a context asked for, the cap at the training context, the GPU's largest buffer (one layer's KV cache),
 * the CPU backend's 4 GiB per rank, and a refusal that says what to lower and by how much — each advice
 * checked by planning again with it.
 */
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { CTX_STEP, planFit, type BackendLimits, type FitRequest, type FitResult, type MemoryBudget } from '../../daemon/model/fit-plan.js';
import type { ModelConfig } from '../../daemon/model/hparams.js';
import { checkModel } from '../../daemon/model/model-check.js';
import { activationBytes, kvCacheBytes } from '../../daemon/model/memory-plan.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

const MiB = 1024 * 1024;
let cfg: ModelConfig;
let weights = 0;
/** KV bytes of one token in one slot (f16). */
let kvPerToken = 0;

before(async () => {
  const file = await openGguf(await ensureModel({ arch: 'qwen3moe', weightType: 'Q8_0', n_ctx: 32768 }));
  try {
    const c = checkModel(file);
    assert.deepEqual(c.problems, []);
    cfg = c.config!;
    weights = c.weightBytes;
  } finally {
    await file.close();
  }
  kvPerToken = kvCacheBytes(cfg.n_layer, 1, 1, cfg.n_head_kv * cfg.n_embd_head_k, cfg.n_head_kv * cfg.n_embd_head_v, 2);
});

const budget = (mb: number): MemoryBudget => ({ bytes: mb * MiB, explicit: true, knob: 'moecode.gpu.memoryBudget', source: 'moecode.gpu.memoryBudget' });
const any = (mb: number): BackendLimits => ({ kind: 'any', budget: budget(mb) });
const req = (r: Partial<FitRequest> = {}): FitRequest => ({ nCtx: 0, maxSlots: 4, minSlots: 1, maxBatch: 256, allLogits: false, kvType: 'f16', ...r });

function ok(r: FitResult) {
  assert.ok(r.ok, r.ok ? '' : r.problems.map((p) => p.message).join('\n'));
  return r.plan;
}
function refused(r: FitResult) {
  assert.ok(!r.ok, 'expected a refusal');
  assert.equal(r.problems.length, 1);
  const [p] = r.problems;
  assert.ok(p && p.kind === 'fit');
  return p;
}

test('automatic: every slot at the training context when it fits; the plan stays under the budget', () => {
  const p = ok(planFit(cfg, weights, any(4096), req()));
  assert.deepEqual([p.nSlots, p.nCtx], [4, 32768]);
  assert.equal(p.kvBytes, 4 * 32768 * kvPerToken);
  assert.ok(p.totalBytes <= 4096 * MiB && p.totalBytes === p.weightsBytes + p.kvBytes + p.activationBytes);
});

test('automatic under a tight budget: fewer slots first, then the longest context (a multiple of 256) for two, then one', () => {
  // a budget that holds exactly 1 slot × n tokens
  const exactly = (n: number): BackendLimits => ({ kind: 'any', budget: { ...budget(0), bytes: ok(planFit(cfg, weights, any(4096), req({ nCtx: n, maxSlots: 1 }))).totalBytes } });
  // not even two slots of 1024: one slot of the longest multiple of 256
  const one = ok(planFit(cfg, weights, exactly(1500), req()));
  assert.deepEqual([one.nSlots, one.nCtx], [1, 1280]);
  // less than 256 tokens: refused, with the longest context that would fit
  const none = refused(planFit(cfg, weights, exactly(200), req()));
  assert.equal(none.fit.maxContext, 200);
  assert.match(none.message, /lower the context to at most 200 tokens per slot/);
  const full = ok(planFit(cfg, weights, any(4096), req({ maxSlots: 1 }))).totalBytes - 32768 * kvPerToken; // weights + activations
  // room for 3 slots at full context, not 4
  const three = ok(planFit(cfg, weights, { kind: 'any', budget: { ...budget(0), bytes: full + 3.5 * 32768 * kvPerToken } }, req()));
  assert.deepEqual([three.nSlots, three.nCtx], [3, 32768]);
  // room for ~1.5 full contexts: two slots of a shorter context
  const two = ok(planFit(cfg, weights, { kind: 'any', budget: { ...budget(0), bytes: full + 1.5 * 32768 * kvPerToken } }, req()));
  assert.equal(two.nSlots, 2);
  assert.ok(two.nCtx < 32768 && two.nCtx % CTX_STEP === 0 && two.nCtx >= 24576 - CTX_STEP, `context ${two.nCtx}`);
  assert.ok(two.totalBytes <= full + 1.5 * 32768 * kvPerToken);
  // one more step of context would not fit
  const more = planFit(cfg, weights, { kind: 'any', budget: { ...budget(0), bytes: full + 1.5 * 32768 * kvPerToken } }, req({ nCtx: two.nCtx + CTX_STEP, maxSlots: 2, minSlots: 2 }));
  assert.equal(more.ok, false);
});

test('a context asked for gets the most slots that fit with it, and is capped at the training context', () => {
  const p = ok(planFit(cfg, weights, any(64), req({ nCtx: 2048 })));
  assert.equal(p.nCtx, 2048);
  assert.ok(p.nSlots >= 1 && p.nSlots <= 4);
  const capped = ok(planFit(cfg, weights, any(4096), req({ nCtx: 100000, maxSlots: 1 })));
  assert.equal(capped.nCtx, 32768);
  assert.match(capped.notes.join(' '), /capped at the model's training context, 32768 tokens \(100000 asked\)/);
});

test('a context that does not fit is refused with the longest that does and what the budget would need; both pieces of advice work', () => {
  const limits = any(40);
  const p = refused(planFit(cfg, weights, limits, req({ nCtx: 32768, maxSlots: 1 })));
  assert.equal(p.fit.limit, 'budget');
  assert.ok(p.fit.maxContext > 0 && p.fit.maxContext < 32768);
  assert.match(p.message, new RegExp(`lower the context to at most ${p.fit.maxContext} tokens per slot`));
  assert.match(p.message, /raise moecode\.gpu\.memoryBudget by at least \d+ MB/);
  assert.match(p.message, /needs about \d+ MB .* but moecode\.gpu\.memoryBudget is 40 MB/);
  // the advice: that context fits, one more token does not; the budget it names fits the context asked
  ok(planFit(cfg, weights, limits, req({ nCtx: p.fit.maxContext, maxSlots: 1 })));
  assert.equal(planFit(cfg, weights, limits, req({ nCtx: p.fit.maxContext + 1, maxSlots: 1 })).ok, false);
  ok(planFit(cfg, weights, { kind: 'any', budget: { ...limits.budget, bytes: p.fit.needBytes } }, req({ nCtx: 32768, maxSlots: 1 })));
  // f32 halves what fits: the advice mentions the f16 cache only for an f32 one
  const f32 = refused(planFit(cfg, weights, limits, req({ nCtx: 32768, maxSlots: 1, kvType: 'f32' })));
  assert.match(f32.message, /keep the KV cache in f16/);
  assert.doesNotMatch(p.message, /keep the KV cache in f16/);
});

test('weights alone over the budget: the message says so, with the automatic budget\'s source', () => {
  const auto: MemoryBudget = { bytes: Math.floor(weights / 2), explicit: false, knob: '--gpu-budget', source: 'automatic: 75% of the 1 MB of free memory' };
  const p = refused(planFit(cfg, weights, { kind: 'any', budget: auto }, req()));
  assert.match(p.message, /the weights alone do not fit; free memory or set --gpu-budget to at least \d+ MB/);
  assert.match(p.message, /the memory budget is .* \(automatic: 75% of the 1 MB of free memory\)/);
});

test('GPU: one layer\'s KV cache must fit the largest buffer, whatever the budget', () => {
  const perLayerPerToken = cfg.n_head_kv * cfg.n_embd_head_k * 2; // f16 K (K and V are equally wide here)
  const limits: BackendLimits = { kind: 'gpu', budget: budget(1 << 20), maxBufferBytes: 1000 * perLayerPerToken };
  const p = refused(planFit(cfg, weights, limits, req({ nCtx: 4096, maxSlots: 1 })));
  assert.equal(p.fit.limit, 'gpu-buffer');
  assert.equal(p.fit.maxContext, 1000);
  assert.match(p.message, /one layer's KV cache for 1 slot × 4096 tokens needs .* more than the GPU's largest buffer/);
  const auto = ok(planFit(cfg, weights, limits, req()));
  assert.ok(auto.nSlots * auto.nCtx <= 1000, `${auto.nSlots} × ${auto.nCtx}`);
});

test('GPU: logits of a whole chunk beyond the largest buffer make the chunks shorter', () => {
  const limits: BackendLimits = { kind: 'gpu', budget: budget(1 << 20), maxBufferBytes: 100 * cfg.n_vocab * 4 };
  const p = ok(planFit(cfg, weights, limits, req({ nCtx: 64, maxSlots: 1, allLogits: true })));
  assert.equal(p.maxBatch, 64);
  const q = ok(planFit(cfg, weights, limits, req({ nCtx: 512, maxSlots: 1, allLogits: true })));
  assert.equal(q.maxBatch, 100);
  assert.match(q.notes.join(' '), /prompt chunks of at most 100 tokens/);
});

test('CPU: the busiest rank (its KV heads, weights share, activations) must stay under one WebAssembly memory', () => {
  const rankKvPerToken = cfg.n_layer * (cfg.n_embd_head_k + cfg.n_embd_head_v) * 2; // one KV head per rank
  const maxRankBytes = weights / 2 + activationBytes(cfg, 256, 2000, 1) / 2 + 2000 * rankKvPerToken;
  const limits: BackendLimits = { kind: 'cpu', budget: budget(1 << 20), cpu: { nRanks: 2, kvHeadsMaxPerRank: 1, kvHeadsTotal: 2, maxRankBytes } };
  const p = refused(planFit(cfg, weights, limits, req({ nCtx: 32768, maxSlots: 1 })));
  assert.equal(p.fit.limit, 'wasm-memory');
  assert.ok(p.fit.maxContext > 1500 && p.fit.maxContext < 2500, `max context ${p.fit.maxContext}`);
  ok(planFit(cfg, weights, limits, req({ nCtx: p.fit.maxContext, maxSlots: 1 })));
});
