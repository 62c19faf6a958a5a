/**
 * shaders/sample.wgsl vs daemon/gpu/cpu-reference/sample.ts.
 *  - greedy (temperature <= 0 or top_k = 1) is the argmax of the last logits row, lowest id on ties: exact;
 *  - given the kernel's uniform u (reproduced by sampleUniformRef), the drawn token is the one whose CDF
 *    interval holds u, in the full-vocabulary and the top-k/top-p paths. The GPU sums probabilities in f32,
 *    so a draw within 1e-5 of an interval edge may land on the neighbour (counted, and must be rare);
 *  - over 2,000 sample_index values (temperature 1, no top-k/top-p) the 16-token histogram passes a
 *    chi-square test against softmax at the 1e-6 level (bound computed below);
 *  - top_k = k only ever returns one of the k largest logits; a tiny top_p only the argmax;
 *  - with an allowed-token mask, in all three modes, the same holds against the reference over the allowed
 *    tokens only: a single allowed token always comes out, a mask excluding the argmax never returns it,
 *    fewer allowed tokens than top_k works; a full mask changes nothing and use_mask = 0 ignores the mask;
 *  - a NaN or an infinity anywhere in the row (every logit NaN, one, one masked out, +inf, -inf) draws no
 *    token in any mode: both return NON_FINITE_LOGITS; an earlier row's NaN does not matter.
 */
import assert from 'node:assert/strict';
import { argmaxRef, maskAllowsRef, sampleDistributionRef, sampleRef, sampleUniformRef, type SampleParamsRef } from '../../daemon/gpu/cpu-reference/sample.js';
import { NON_FINITE_LOGITS } from '../../daemon/model/sample-result.js';
import type { GpuKernelHarness, KernelCall } from '../helpers/gpu-harness.js';
import { kernelTest } from '../helpers/gpu-harness.js';
import { randn, seeded } from './kernel-test-utils.js';

const f = Math.fround;
const EDGE_TOL = 1e-5;

/**
 * Draws one token per sample index (one dispatch each, all in one submit). logits: [n_logits, n_vocab].
 * `p.mask` is bound and enabled when present; `boundMask` binds a mask with use_mask = 0 instead.
 */
async function draws(
  h: GpuKernelHarness,
  logits: Float32Array,
  n_vocab: number,
  p: SampleParamsRef,
  seed: number,
  indices: number[],
  boundMask?: Uint32Array,
): Promise<number[]> {
  const n_logits = logits.length / n_vocab;
  const align = Math.max(256, h.device.limits.minStorageBufferOffsetAlignment);
  const logitsBuf = h.buffer(logits);
  const maskBuf = h.buffer(p.mask ?? boundMask ?? new Uint32Array(4));
  const results = h.buffer({ bytes: indices.length * align });
  try {
    const calls: KernelCall[] = indices.map((sample_index, i) => ({
      kernel: 'sample',
      step: { n_tokens: 1, n_logits, seed, sample_index },
      params: [n_vocab, p.top_k, { f32: p.top_p }, { f32: p.temperature }, p.mask ? 1 : 0],
      bindings: { 2: logitsBuf, 3: { buffer: results, offset: i * align, size: 16 }, 4: maskBuf },
      dispatch: [1, 1, 1],
    }));
    const { dispose } = await h.submit(calls);
    dispose();
    const out = new Uint32Array(await h.read(results, indices.length * align));
    return indices.map((_, i) => out[(i * align) / 4]!);
  } finally {
    logitsBuf.destroy();
    maskBuf.destroy();
    results.destroy();
  }
}

/** The parameters as the kernel sees them (f32 uniforms). */
const asF32 = (p: SampleParamsRef): SampleParamsRef => ({ temperature: f(p.temperature), top_k: p.top_k, top_p: f(p.top_p), mask: p.mask });

/** A mask allowing the tokens `allow` says yes to (written here, independently of daemon/engine/token-mask.ts). */
function maskOf(n_vocab: number, allow: (i: number) => boolean): Uint32Array {
  const m = new Uint32Array(Math.ceil(n_vocab / 32));
  for (let i = 0; i < n_vocab; i++) if (allow(i)) m[i >> 5]! |= 1 << (i & 31);
  return m;
}

/** Checks each GPU draw against the reference draw for its u; returns how many were edge cases. */
function checkDraws(got: number[], last: Float32Array, p: SampleParamsRef, seed: number, indices: number[], what: string): number {
  let edges = 0;
  got.forEach((token, i) => {
    const u = sampleUniformRef(seed, indices[i]!);
    const ref = sampleRef(last, asF32(p), u);
    if (token === ref.token) return;
    assert.ok(ref.margin < EDGE_TOL && token === ref.neighbour, `${what}: sample_index ${indices[i]} (u ${u}) drew ${token}, expected ${ref.token} (margin ${ref.margin}, neighbour ${ref.neighbour})`);
    edges++;
  });
  return edges;
}

const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => from + i);

kernelTest('sample greedy: argmax of the last logits row (temperature 0, or top_k 1), lowest id on ties; vocab 16..151936', async (h) => {
  const rnd = seeded(141);
  for (const n_vocab of [16, 1000, 70001, 151936]) {
    const n_logits = 3;
    const logits = randn(n_logits * n_vocab, rnd, 3);
    const last = logits.subarray((n_logits - 1) * n_vocab);
    logits[Math.floor(rnd() * n_vocab)] = 100; // a larger maximum in an earlier row: must not be used
    for (const p of [
      { temperature: 0, top_k: 0, top_p: 1 },
      { temperature: -1, top_k: 40, top_p: 0.9 },
      { temperature: 0.8, top_k: 1, top_p: 1 },
    ]) {
      const [token] = await draws(h, logits, n_vocab, p, 7, [0]);
      assert.equal(token, argmaxRef(last), `vocab ${n_vocab} ${JSON.stringify(p)}`);
    }
  }
  // ties: the lowest id wins, wherever the tied values sit
  const n_vocab = 1000;
  const tied = new Float32Array(n_vocab).fill(-1);
  for (const i of [913, 257, 640, 258]) tied[i] = 4;
  const [token] = await draws(h, tied, n_vocab, { temperature: 0, top_k: 0, top_p: 1 }, 0, [0]);
  assert.equal(token, 257);
});

kernelTest('sample: a fixed (seed, sample_index) gives the same token twice; seeds and indices change the draw', async (h) => {
  const rnd = seeded(142);
  const n_vocab = 500;
  const logits = randn(n_vocab, rnd, 1);
  const p = { temperature: 1, top_k: 0, top_p: 1 };
  const a = await draws(h, logits, n_vocab, p, 1234, range(20));
  const b = await draws(h, logits, n_vocab, p, 1234, range(20));
  assert.deepEqual(a, b);
  const c = await draws(h, logits, n_vocab, p, 99, range(20));
  assert.notDeepEqual(a, c, 'another seed draws other tokens');
  assert.ok(new Set(a).size > 5, 'different sample indices draw different tokens');
});

kernelTest('sample full vocabulary (top_k 0, top_p 1): the token is the inverse CDF at u, vocab 1000 and 70001, temperatures 1 and 0.7', async (h) => {
  const rnd = seeded(143);
  let edges = 0;
  let total = 0;
  for (const n_vocab of [1000, 70001]) {
    for (const temperature of [1, 0.7]) {
      const logits = randn(2 * n_vocab, rnd, n_vocab > 10000 ? 2 : 1.5);
      const p = { temperature, top_k: 0, top_p: 1 };
      const indices = range(n_vocab > 10000 ? 20 : 100, 1000);
      const got = await draws(h, logits, n_vocab, p, 42 + n_vocab, indices);
      edges += checkDraws(got, logits.subarray(n_vocab), p, 42 + n_vocab, indices, `vocab ${n_vocab} T ${temperature}`);
      total += indices.length;
    }
  }
  assert.ok(edges <= 2, `${edges} of ${total} draws fell on an interval edge`);
});

kernelTest('sample top-k / top-p: the token is the inverse CDF at u over the kept candidates; never outside them', async (h) => {
  const rnd = seeded(144);
  let edges = 0;
  const cases: SampleParamsRef[] = [
    { temperature: 1, top_k: 40, top_p: 1 },
    { temperature: 0.8, top_k: 40, top_p: 0.9 },
    { temperature: 1.3, top_k: 0, top_p: 0.95 }, // top_k 0 with top_p < 1: the 256 most likely, then top-p
    { temperature: 0.5, top_k: 5, top_p: 1 },
    { temperature: 1, top_k: 300, top_p: 0.99 }, // more than 256: capped at 256
  ];
  for (const n_vocab of [3000, 151936]) {
    for (const p of cases) {
      if (n_vocab > 10000 && p.top_k !== 40) continue;
      const logits = randn(n_vocab, rnd, 2.5);
      const indices = range(n_vocab > 10000 ? 4 : 40);
      const got = await draws(h, logits, n_vocab, p, 5, indices);
      const kept = new Set(sampleDistributionRef(logits, asF32(p)).ids);
      assert.ok(
        got.every((t) => kept.has(t)),
        `vocab ${n_vocab} ${JSON.stringify(p)}: drew outside the ${kept.size} kept candidates`,
      );
      edges += checkDraws(got, logits, p, 5, indices, `vocab ${n_vocab} ${JSON.stringify(p)}`);
    }
  }
  assert.ok(edges <= 2, `${edges} draws fell on an interval edge`);
});

kernelTest('sample top_k = 5: over 150 draws only the 5 largest logits come out (and more than one of them)', async (h) => {
  const rnd = seeded(145);
  const n_vocab = 1000;
  const logits = randn(n_vocab, rnd, 0.3); // a flat distribution: without the cut most draws would fall outside
  const top5 = new Set(Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b).slice(0, 5));
  const got = await draws(h, logits, n_vocab, { temperature: 1.5, top_k: 5, top_p: 1 }, 77, range(150));
  assert.ok(got.every((t) => top5.has(t)), `tokens outside the top 5: ${got.filter((t) => !top5.has(t))}`);
  assert.ok(new Set(got).size >= 4, `only ${new Set(got).size} distinct tokens`);
});

kernelTest('sample small top_p: only the argmax comes out', async (h) => {
  const rnd = seeded(146);
  const n_vocab = 2000;
  const logits = randn(n_vocab, rnd, 1);
  for (const p of [
    { temperature: 1, top_k: 0, top_p: 0.01 },
    { temperature: 2, top_k: 40, top_p: 0.001 },
  ]) {
    const got = await draws(h, logits, n_vocab, p, 3, range(50));
    assert.ok(got.every((t) => t === argmaxRef(logits)), `${JSON.stringify(p)}: ${[...new Set(got)]}`);
  }
});

/** Upper 1e-6 tail of chi-square with `dof` degrees of freedom (Wilson–Hilferty; z = 4.753). */
function chiSquareBound(dof: number): number {
  const z = 4.753424308822899;
  const a = 2 / (9 * dof);
  return dof * (1 - a + z * Math.sqrt(a)) ** 3;
}

kernelTest('sample distribution: 2,000 draws (temperature 1, top_k 0, top_p 1) on 16 tokens match softmax (chi-square, 15 dof, p = 1e-6)', async (h) => {
  const n_vocab = 16;
  const logits = Float32Array.from(range(n_vocab), (i) => Math.sin(i * 1.7) * 1.4); // probabilities 1.4% .. 17%
  const probs = sampleDistributionRef(logits, { temperature: 1, top_k: 0, top_p: 1 }).probs;
  const N = 2000;
  const counts = new Array(n_vocab).fill(0);
  for (const t of await draws(h, logits, n_vocab, { temperature: 1, top_k: 0, top_p: 1 }, 2024, range(N))) counts[t]++;
  let chi2 = 0;
  for (let i = 0; i < n_vocab; i++) {
    const expected = N * probs[i]!;
    assert.ok(expected >= 5, `expected count ${expected} too small for a chi-square test`);
    chi2 += (counts[i] - expected) ** 2 / expected;
  }
  const bound = chiSquareBound(n_vocab - 1);
  assert.ok(chi2 < bound, `chi-square ${chi2.toFixed(2)} >= ${bound.toFixed(2)}; counts ${counts}, expected ${Array.from(probs, (q) => (q * N).toFixed(1))}`);
  // and the same histogram is not what a uniform or a greedy sampler would give
  assert.ok(counts[argmaxRef(logits)] < N / 2);
});

kernelTest('sample mask, greedy: the largest allowed logit; a single allowed token always; the masked argmax never', async (h) => {
  const rnd = seeded(147);
  for (const n_vocab of [16, 1000, 151936]) {
    const logits = randn(2 * n_vocab, rnd, 3);
    const last = logits.subarray(n_vocab);
    const top = argmaxRef(last);
    const only = Math.floor(rnd() * n_vocab);
    const masks = {
      'all but the argmax': maskOf(n_vocab, (i) => i !== top),
      'one token': maskOf(n_vocab, (i) => i === only),
      'a third': maskOf(n_vocab, () => rnd() < 0.33),
      'the last token': maskOf(n_vocab, (i) => i === n_vocab - 1),
    };
    for (const [what, mask] of Object.entries(masks)) {
      for (const p of [
        { temperature: 0, top_k: 0, top_p: 1, mask },
        { temperature: 0.8, top_k: 1, top_p: 1, mask },
      ]) {
        const [token] = await draws(h, logits, n_vocab, p, 7, [0]);
        const want = argmaxRef(last, mask);
        assert.ok(maskAllowsRef(mask, token!), `vocab ${n_vocab}, ${what}: drew disallowed ${token}`);
        assert.equal(token, want, `vocab ${n_vocab}, ${what}, T ${p.temperature}`);
      }
    }
    assert.notEqual(argmaxRef(last, masks['all but the argmax']), top);
    assert.equal(argmaxRef(last, masks['one token']), only);
  }
  // ties among allowed tokens: the lowest allowed id wins; a disallowed lower id with the same value does not
  const tied = new Float32Array(1000).fill(-1);
  for (const i of [913, 257, 640, 258]) tied[i] = 4;
  const [token] = await draws(h, tied, 1000, { temperature: 0, top_k: 0, top_p: 1, mask: maskOf(1000, (i) => i !== 257) }, 0, [0]);
  assert.equal(token, 258);
});

kernelTest('sample mask, full vocabulary: the inverse CDF at u over the allowed tokens; only allowed tokens come out', async (h) => {
  const rnd = seeded(148);
  let edges = 0;
  let total = 0;
  for (const n_vocab of [1000, 70001]) {
    const logits = randn(n_vocab, rnd, 2);
    const top = argmaxRef(logits);
    const only = Math.floor(rnd() * n_vocab);
    for (const [what, mask] of [
      ['a third', maskOf(n_vocab, () => rnd() < 0.33)],
      ['all but the argmax', maskOf(n_vocab, (i) => i !== top)],
      ['one token', maskOf(n_vocab, (i) => i === only)],
      ['three tokens, one far below the rest', maskOf(n_vocab, (i) => i === 5 || i === 6 || i === n_vocab - 2)],
    ] as const) {
      for (const temperature of [1, 0.7]) {
        const p = { temperature, top_k: 0, top_p: 1, mask };
        const indices = range(n_vocab > 10000 ? 12 : 60, 300);
        const got = await draws(h, logits, n_vocab, p, 11, indices);
        assert.ok(got.every((t) => maskAllowsRef(mask, t)), `vocab ${n_vocab}, ${what}: drew disallowed ${got.filter((t) => !maskAllowsRef(mask, t))}`);
        if (what === 'one token') assert.ok(got.every((t) => t === only));
        if (what === 'all but the argmax') assert.ok(!got.includes(top));
        edges += checkDraws(got, logits, p, 11, indices, `vocab ${n_vocab} ${what} T ${temperature}`);
        total += indices.length;
      }
    }
  }
  assert.ok(edges <= 2, `${edges} of ${total} draws fell on an interval edge`);
});

kernelTest('sample mask, top-k / top-p: the kept candidates are the best allowed ones; fewer allowed tokens than top_k', async (h) => {
  const rnd = seeded(149);
  let edges = 0;
  const cases: SampleParamsRef[] = [
    { temperature: 1, top_k: 40, top_p: 1 },
    { temperature: 0.8, top_k: 40, top_p: 0.9 },
    { temperature: 1.3, top_k: 0, top_p: 0.95 },
  ];
  for (const n_vocab of [3000, 151936]) {
    const logits = randn(n_vocab, rnd, 2.5);
    const byLogit = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]! || a - b);
    const top50 = new Set(byLogit.slice(0, 50));
    const seven = new Set(Array.from({ length: 7 }, () => Math.floor(rnd() * n_vocab)));
    const masks = {
      'all but the 50 largest': maskOf(n_vocab, (i) => !top50.has(i)),
      'seven tokens (fewer than top_k)': maskOf(n_vocab, (i) => seven.has(i)),
      'one token': maskOf(n_vocab, (i) => i === byLogit[n_vocab - 1]), // the least likely of all
      'half': maskOf(n_vocab, () => rnd() < 0.5),
    };
    for (const [what, mask] of Object.entries(masks)) {
      for (const base of cases) {
        if (n_vocab > 10000 && base.top_k !== 40) continue;
        const p = { ...base, mask };
        const indices = range(n_vocab > 10000 ? 4 : 30);
        const got = await draws(h, logits, n_vocab, p, 9, indices);
        const kept = sampleDistributionRef(logits, asF32(p)).ids;
        assert.ok(kept.every((t) => maskAllowsRef(mask, t)));
        assert.ok(got.every((t) => kept.includes(t)), `vocab ${n_vocab} ${what} ${JSON.stringify(base)}: drew outside the ${kept.length} kept candidates: ${got}`);
        if (what === 'all but the 50 largest') assert.ok(got.every((t) => !top50.has(t)));
        if (what === 'one token') assert.ok(got.every((t) => t === byLogit[n_vocab - 1]));
        if (what.startsWith('seven') && base.top_p >= 1) assert.equal(kept.length, seven.size);
        edges += checkDraws(got, logits, p, 9, indices, `vocab ${n_vocab} ${what} ${JSON.stringify(base)}`);
      }
    }
  }
  assert.ok(edges <= 2, `${edges} draws fell on an interval edge`);
});

kernelTest('sample mask: a mask allowing everything draws what no mask draws; with use_mask = 0 a bound mask is ignored', async (h) => {
  const rnd = seeded(150);
  const n_vocab = 5000;
  const logits = randn(n_vocab, rnd, 2);
  const full = maskOf(n_vocab, () => true);
  const none = new Uint32Array(full.length); // would allow nothing if it were read
  for (const p of [
    { temperature: 0, top_k: 0, top_p: 1 },
    { temperature: 1, top_k: 0, top_p: 1 },
    { temperature: 0.8, top_k: 40, top_p: 0.95 },
  ]) {
    const plain = await draws(h, logits, n_vocab, p, 21, range(40));
    assert.deepEqual(await draws(h, logits, n_vocab, { ...p, mask: full }, 21, range(40)), plain, `${JSON.stringify(p)}: full mask`);
    assert.deepEqual(await draws(h, logits, n_vocab, p, 21, range(40), none), plain, `${JSON.stringify(p)}: use_mask 0`);
  }
});

kernelTest('sample: a NaN or an infinity in the row draws no token, in every mode; the reference agrees', async (h) => {
  const rnd = seeded(150);
  const n_vocab = 3000;
  const modes: SampleParamsRef[] = [
    { temperature: 0, top_k: 0, top_p: 1 },
    { temperature: 1, top_k: 0, top_p: 1 },
    { temperature: 0.8, top_k: 40, top_p: 0.9 },
  ];
  const rows: [string, (row: Float32Array) => void, Uint32Array?][] = [
    ['every logit NaN', (row) => row.fill(NaN)],
    ['one NaN', (row) => (row[1234] = NaN)],
    ['+inf', (row) => (row[7] = Infinity)],
    ['-inf', (row) => (row[n_vocab - 1] = -Infinity)],
    ['a NaN on a masked-out token', (row) => (row[5] = NaN), maskOf(n_vocab, (i) => i !== 5)],
  ];
  for (const [what, spoil, mask] of rows) {
    const logits = randn(2 * n_vocab, rnd, 2);
    const last = logits.subarray(n_vocab);
    spoil(last);
    for (const mode of modes) {
      const p = { ...mode, mask };
      const got = await draws(h, logits, n_vocab, p, 9, [0, 1]);
      assert.deepEqual(got, [NON_FINITE_LOGITS, NON_FINITE_LOGITS], `${what}, ${JSON.stringify(mode)}`);
      assert.equal(sampleRef(last, asF32(p), sampleUniformRef(9, 0)).token, NON_FINITE_LOGITS, `reference: ${what}`);
    }
  }
  // a NaN in an earlier row (a prompt position that is not sampled) changes nothing
  const logits = randn(2 * n_vocab, rnd, 2);
  logits[10] = NaN;
  const [token] = await draws(h, logits, n_vocab, { temperature: 0, top_k: 0, top_p: 1 }, 0, [0]);
  assert.equal(token, argmaxRef(logits.subarray(n_vocab)));
});
