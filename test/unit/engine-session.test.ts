/**
 * Sessions on a real GPU (SwiftShader here) with generated tiny models:
 *  - a prompt sharing a prefix with what the KV slot holds evaluates only the new tokens, and samples
 *    what a fresh slot samples;
 *  - greedy generation equals llama.cpp's greedy for the same prompt (node-llama-cpp oracle);
 *  - seeded sampling (temperature 0.8, top-k 40, top-p 0.95) is reproducible for a seed, differs across
 *    seeds, only draws from the top-k / top-p set, and draws with the expected frequencies.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { Engine } from '../../daemon/engine/engine.js';
import { generate } from '../../daemon/engine/generate.js';
import type { Session } from '../../daemon/engine/session.js';
import type { SamplingParams } from '../../daemon/gpu/graph-runner.js';
import { modelUnavailable } from '../helpers/backend-available.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { disposeOracle, oracleGreedy, oracleRun } from '../helpers/llama-oracle.js';

const GREEDY: SamplingParams = { temperature: 0, topK: 1, topP: 1, seed: 0 };
const SAMPLED = { temperature: 0.8, topK: 40, topP: 0.95 };

const PROMPTS = ['import numpy as np\nx = np.', 'for (let i = 0; i < n; i++) {', 'SELECT * FROM users WHERE', 'class Foo:\n    def __init__(self'];

let noModel: string | undefined;
/** llama (Mixtral layout) tiny model, F32: varied greedy continuations, exact agreement with llama.cpp. */
let llamaF32 = '';
let engine: Engine | undefined;

function needModel(t: TestContext): boolean {
  if (noModel) t.skip(noModel);
  return !noModel;
}

/** n tokens from a session: prefill, then decode (no stop conditions). */
async function continuation(session: Session, prompt: readonly number[], n: number, sampling: SamplingParams): Promise<number[]> {
  let { token } = await session.prefill(prompt, sampling);
  const out = [token];
  while (out.length < n) out.push((token = await session.decode(token, sampling)));
  return out;
}

before(async () => {
  llamaF32 = await ensureModel({ arch: 'llama', preset: 'tiny', weightType: 'F32' });
  noModel = await modelUnavailable();
  if (noModel) {
    console.log(`# model tests skipped: ${noModel}`);
    return;
  }
  engine = await Engine.load(llamaF32, { nCtx: 256, nSlots: 2, allLogits: true });
});

after(async () => {
  await engine?.dispose();
  await disposeOracle();
});

test('a prompt extending the cached one evaluates only the new tokens and samples like a fresh slot', async (t) => {
  if (!needModel(t)) return;
  const e = engine!;
  const warm = e.session(0);
  const fresh = e.session(1);
  warm.reset();
  const p1 = e.tokenizer.encode(PROMPTS[0]);
  const p2 = [...p1, ...e.tokenizer.encode(' array([1, 2, 3])\ny = x')];

  const first = await warm.prefill(p1, GREEDY);
  assert.deepEqual([first.stats.reused, first.stats.evaluated], [0, p1.length]);

  const extended = await warm.prefill(p2, GREEDY);
  assert.equal(extended.stats.reused, p1.length, 'the cached prompt is reused');
  assert.equal(extended.stats.evaluated, p2.length - p1.length, 'only the new tokens are evaluated');
  fresh.reset();
  const ref = await fresh.prefill(p2, GREEDY);
  assert.equal(ref.stats.reused, 0);
  assert.equal(extended.token, ref.token, 'same greedy token as a fresh slot');

  // The same prompt again: only its last token is evaluated (its logits are needed to sample).
  const again = await warm.prefill(p2, GREEDY);
  assert.deepEqual([again.stats.reused, again.stats.evaluated], [p2.length - 1, 1]);
  assert.equal(again.token, ref.token);

  // Generated tokens are in the cache too: a prompt that continues the generated text reuses them.
  const gen = await continuation(warm, p2, 6, GREEDY);
  const p3 = [...p2, ...gen.slice(0, 5), ...e.tokenizer.encode('\nprint(y)')];
  const cont = await warm.prefill(p3, GREEDY);
  assert.equal(cont.stats.reused, p2.length + 5, 'prompt + 5 decoded tokens come from the cache');
  fresh.reset();
  assert.equal(cont.token, (await fresh.prefill(p3, GREEDY)).token);

  // A prompt that diverges from the cache after k tokens reuses exactly k.
  const k = 4;
  const p4 = [...p2.slice(0, k), ...e.tokenizer.encode('zzz = 1')];
  assert.notEqual(p4[k], p3[k]);
  const div = await warm.prefill(p4, GREEDY);
  assert.deepEqual([div.stats.reused, div.stats.evaluated], [k, p4.length - k]);
  fresh.reset();
  assert.equal(div.token, (await fresh.prefill(p4, GREEDY)).token);
  assert.deepEqual(warm.tokens, p4, 'the session holds exactly the last prompt');

  // Seeded sampling draws the same token with a reused prefix as from scratch.
  for (const seed of [3, 4, 5, 6]) {
    const sampling = { ...SAMPLED, seed };
    warm.reset();
    await warm.prefill(p1, sampling);
    const reusedDraw = await warm.prefill(p2, sampling);
    assert.equal(reusedDraw.stats.reused, p1.length);
    fresh.reset();
    assert.equal(reusedDraw.token, (await fresh.prefill(p2, sampling)).token, `seed ${seed}`);
  }
});

test('continuations after a reused prefix equal those of a fresh slot', async (t) => {
  if (!needModel(t)) return;
  const e = engine!;
  const [a, b] = [e.session(0), e.session(1)];
  const p1 = e.tokenizer.encode(PROMPTS[1]);
  const p2 = [...p1, ...e.tokenizer.encode(' sum += i;')];
  a.reset();
  await a.prefill(p1, GREEDY);
  b.reset();
  assert.deepEqual(await continuation(a, p2, 12, GREEDY), await continuation(b, p2, 12, GREEDY));
});

/**
 * ours must equal llama.cpp's greedy tokens. With quantised weights the two may part at a near tie (the
 * issue's Q8_0/Q4_0 target is top-1 agreement at >= 95% of positions, not exact sequences): then
 * llama.cpp's own log-probabilities of both tokens must be within NEAR_TIE nats, and the rest is not
 * compared.
 */
const NEAR_TIE = 0.02;
async function assertSameGreedy(t: TestContext, path: string, prompt: number[], ours: number[], theirs: number[], exact: boolean, label: string): Promise<void> {
  const j = ours.findIndex((x, i) => x !== theirs[i]);
  if (j < 0 && ours.length === theirs.length) return;
  if (exact || j < 0) assert.deepEqual(ours, theirs, label);
  const lp = (await oracleRun(path, [...prompt, ...theirs.slice(0, j)], 0)).logprobs.at(-1)!;
  const gap = lp[theirs[j]] - lp[ours[j]];
  assert.ok(gap < NEAR_TIE, `${label}: token ${j} is ${ours[j]}, llama.cpp's is ${theirs[j]}, ${gap.toFixed(4)} nats more likely there`);
  t.diagnostic(`${label}: parted from llama.cpp at token ${j} of ${ours.length} on a near tie (${gap.toFixed(4)} nats)`);
}

test('greedy generation equals llama.cpp greedy for the same prompts (llama F32, olmoe Q8_0)', async (t) => {
  if (!needModel(t)) return;
  const models = [
    { name: 'llama F32', path: llamaF32, exact: true, engine: engine },
    { name: 'olmoe Q8_0', path: await ensureModel({ arch: 'olmoe', preset: 'tiny', weightType: 'Q8_0' }), exact: false, engine: undefined as Engine | undefined },
  ];
  const N = 24;
  const distinct = new Set<number>();
  for (const m of models) {
    const e = m.engine ?? (m.engine = await Engine.load(m.path, { nCtx: 128, kvType: 'f32' })); // llama.cpp's KV cache here is F32 too
    try {
      for (const text of PROMPTS.slice(0, 3)) {
        const prompt = e.tokenizer.encode(text);
        const theirs = await oracleGreedy(m.path, prompt, N);
        theirs.forEach((x) => distinct.add(x));
        const session = e.session(0);
        session.reset();
        const ours = await continuation(session, prompt, N, GREEDY);
        await assertSameGreedy(t, m.path, prompt, ours, theirs, m.exact, `${m.name}, prompt ${JSON.stringify(text)}`);
        // generate() gives the same tokens, up to the first end-of-generation token.
        session.reset();
        const r = await generate(session, e.tokenizer, prompt, { maxTokens: N, sampling: GREEDY });
        const eog = ours.findIndex((x) => e.tokenizer.eogIds.has(x));
        assert.deepEqual(r.tokens, eog < 0 ? ours : ours.slice(0, eog), `${m.name}: generate()`);
        assert.equal(r.stopReason, eog < 0 ? 'length' : 'eos');
      }
    } finally {
      if (e !== engine) await e.dispose();
    }
  }
  assert.ok(distinct.size >= 12, `the reference continuations are varied (${distinct.size} distinct tokens), so agreement means something`);
});

test('seeded sampling is reproducible for a seed and differs across seeds', async (t) => {
  if (!needModel(t)) return;
  const e = engine!;
  const session = e.session(0);
  const prompt = e.tokenizer.encode(PROMPTS[2]);
  const draw = async (seed: number) => {
    session.reset();
    return continuation(session, prompt, 20, { ...SAMPLED, seed });
  };
  const bySeed = new Map<number, number[]>();
  for (const seed of [1, 2, 3, 4]) bySeed.set(seed, await draw(seed));
  assert.deepEqual(await draw(1), bySeed.get(1), 'seed 1 again: the same tokens');
  assert.deepEqual(await draw(3), bySeed.get(3), 'seed 3 again: the same tokens');
  // With the cache kept (the prompt reused), the same seed still gives the same tokens.
  assert.deepEqual(await continuation(session, prompt, 20, { ...SAMPLED, seed: 3 }), bySeed.get(3));
  const distinct = new Set([...bySeed.values()].map((s) => s.join(',')));
  assert.ok(distinct.size >= 3, `4 seeds gave ${distinct.size} distinct sequences`);
  assert.notDeepEqual(bySeed.get(1), bySeed.get(2));
  session.reset();
  const greedy = await continuation(session, prompt, 20, GREEDY);
  assert.ok([...bySeed.values()].some((s) => s.join() !== greedy.join()), 'sampling is not greedy');
  // top-k 1 is greedy at any temperature
  session.reset();
  assert.deepEqual(await continuation(session, prompt, 20, { temperature: 0.8, topK: 1, topP: 0.95, seed: 9 }), greedy);
});

// ---- the sampled distribution ----

/** The documented sampling distribution (shaders/sample.wgsl, llama.cpp's chain): top-k, then top-p at
 * temperature 1 within it, then softmax(logit / temperature) over the kept tokens. */
function expectedDistribution(logits: Float32Array, s: { temperature: number; topK: number; topP: number }, slack = 0): Map<number, number> {
  const ids = Array.from(logits.keys()).sort((a, b) => logits[b] - logits[a] || a - b);
  const k = s.topK > 0 ? Math.min(s.topK, ids.length) : ids.length;
  const top = ids.slice(0, k);
  const mx = logits[top[0]];
  const z = top.reduce((acc, i) => acc + Math.exp(logits[i] - mx), 0);
  let keep = top.length;
  if (s.topP < 1) {
    let cum = 0;
    for (let j = 0; j < top.length; j++) {
      cum += Math.exp(logits[top[j]] - mx) / z;
      if (cum >= s.topP + slack) {
        keep = j + 1;
        break;
      }
    }
  }
  const kept = top.slice(0, keep);
  const zt = kept.reduce((acc, i) => acc + Math.exp((logits[i] - mx) / s.temperature), 0);
  return new Map(kept.map((i) => [i, Math.exp((logits[i] - mx) / s.temperature) / zt]));
}

/** The 0.999 quantile of chi-square with `df` degrees of freedom (Wilson–Hilferty). */
function chiSquareQuantile999(df: number): number {
  const z = 3.0902;
  const a = 2 / (9 * df);
  return df * (1 - a + z * Math.sqrt(a)) ** 3;
}

/** Tokens with probability >= 0.04. */
function likely(q: Map<number, number>): number {
  return [...q.values()].filter((p) => p >= 0.04).length;
}

function entropy(q: Map<number, number>): number {
  let h = 0;
  for (const p of q.values()) if (p > 0) h -= p * Math.log(p);
  return h;
}

test('sampled tokens come from the top-k/top-p set with the expected frequencies', async (t) => {
  if (!needModel(t)) return;
  const e = engine!;
  const session = e.session(0);
  const prompt = e.tokenizer.encode(PROMPTS[3]);

  // Every token of seeded continuations lies in the (slightly widened) top-k/top-p set of its position.
  for (const seed of [11, 12, 13]) {
    session.reset();
    const toks = await continuation(session, prompt, 16, { ...SAMPLED, seed });
    const rows = await e.model.feedAndReadLogits(1, 0, [...prompt, ...toks.slice(0, -1)]);
    toks.forEach((tok, i) => {
      const allowed = expectedDistribution(rows[prompt.length - 1 + i], SAMPLED, 1e-3);
      assert.ok(allowed.has(tok), `seed ${seed}, token ${i}: ${tok} is outside the top-k/top-p set (${allowed.size} tokens)`);
    });
  }

  // The position of the prompt with the most likely tokens, then many seeds there: frequencies vs the distribution.
  const rows = await e.model.feedAndReadLogits(1, 0, prompt);
  for (const s of [SAMPLED, { temperature: 1.0, topK: 0, topP: 1 }]) {
    let best = 0;
    let q = expectedDistribution(rows[0], s);
    for (let i = 1; i < rows.length; i++) {
      const qi = expectedDistribution(rows[i], s);
      if (likely(qi) > likely(q) || (likely(qi) === likely(q) && entropy(qi) > entropy(q))) [best, q] = [i, qi];
    }
    assert.ok([...q.values()].filter((p) => p > 0.05).length >= 3, 'the chosen position has at least 3 likely tokens');
    const prefix = prompt.slice(0, best + 1);
    const M = 200;
    const counts = new Map<number, number>();
    for (let seed = 1000; seed < 1000 + M; seed++) {
      const { token } = await session.prefill(prefix, { ...s, seed });
      counts.set(token, (counts.get(token) ?? 0) + 1);
    }
    // Pearson's chi-square over the likely tokens (expected count >= 8 each) and one bin for the rest.
    const bins = [...q].filter(([, p]) => p * M >= 8).map(([id]) => id);
    const restOf = () => M - bins.reduce((a, id) => a + q.get(id)! * M, 0);
    while (bins.length > 0 && restOf() > 0 && restOf() < 8) bins.pop(); // the rest bin needs a count too
    const binOf = (id: number) => (bins.includes(id) ? id : -1);
    const expected = new Map<number, number>(bins.map((id) => [id, q.get(id)! * M]));
    expected.set(-1, M - [...expected.values()].reduce((a, b) => a + b, 0));
    const observed = new Map<number, number>();
    for (const [id, c] of counts) observed.set(binOf(id), (observed.get(binOf(id)) ?? 0) + c);
    let chi2 = 0;
    for (const [b, ex] of expected) if (ex > 0) chi2 += ((observed.get(b) ?? 0) - ex) ** 2 / ex;
    const df = expected.size - 1;
    const crit = chiSquareQuantile999(df);
    if (s.topK > 0) {
      const allowed = expectedDistribution(rows[best], s, 1e-3);
      for (const id of counts.keys()) assert.ok(allowed.has(id), `token ${id} drawn outside the top-k/top-p set`);
    }
    t.diagnostic(`${JSON.stringify(s)}: chi-square ${chi2.toFixed(1)}, df ${df}, critical ${crit.toFixed(1)}`);
    assert.ok(df >= 2, `enough likely tokens to compare (${df + 1} bins)`);
    assert.ok(chi2 < crit, `chi-square ${chi2.toFixed(1)} > ${crit.toFixed(1)} (df ${df}, p = 0.001): ${M} draws do not follow the distribution ${JSON.stringify(s)}`);
  }
});
