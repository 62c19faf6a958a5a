/**
 * The float64 CPU reference (daemon/gpu/cpu-reference) against llama.cpp on generated models in the
 * formats that have reference code but no kernels yet (daemon/formats: BF16, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K,
 * IQ4_NL, IQ4_XS, MXFP4): each type on at least one architecture, llama.cpp's Q4_K_M mix on all six MoE
 * archs and a dense llama, the same mix on the tiny preset (every K-quant falls back: Q5_0, Q5_1, Q8_0),
 * and a per-tensor type mix. This checks the reference dequantisation and the activation emulation
 * (Q8_0 / Q8_1 / Q8_K / BF16, from the format table) against llama.cpp, and that llama.cpp loads the
 * generated files at all.
 *
 * Targets, as for the quantised conformance: mean KL ≤ 1e-2 per position and the same top-1 token at
 * ≥ 95% of positions; greedy continuations equal up to near ties. Measured here (see the printed table):
 * positions match to ~1e-5 in log p, except that where one activation lands on the other side of a
 * Q8 / bf16 rounding boundary (float64 here, f32 in ggml) the rest of that prompt moves by up to ~0.1.
 * So each case must also have at least half of its positions within 1e-4, and the activation emulation
 * must cut the mean KL at least tenfold (without it no case gets below ~1e-4 mean KL; for Q4_1 / Q5_1 the
 * Q8_1 block sums alone make the difference between ~1e-6 and ~1e-1 in log p).
 *
 * MOECODE_FORMAT_CASES=<substring> runs only the cases whose label contains it.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { EXACT_NUMERICS, ReferenceModel } from '../../daemon/gpu/cpu-reference/forward-reference.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { MOE_ARCHS } from '../../tools/modelgen/model-spec.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';
import { judgeGreedy } from '../helpers/greedy-check.js';
import type { GreedyVerdict } from '../helpers/greedy-check.js';
import { disposeOracle, oracleRun } from '../helpers/llama-oracle.js';
import { compareRuns, fmtE, formatTable, summarize } from '../helpers/logprob-compare.js';
import type { CompareStats, PositionStats } from '../helpers/logprob-compare.js';
import { randomPrompts } from '../helpers/prompts.js';

const N_GREEDY = 16;
const PROMPTS = 6;
const PROMPT_LEN = 8;

interface Case {
  label: string;
  spec: ModelSpecInput;
}

const CASES: Case[] = [
  // one architecture per type (32-wide blocks on the tiny preset, 256-wide on tiny256)
  { label: 'grok BF16', spec: { arch: 'grok', weightType: 'BF16' } },
  { label: 'llama Q4_1', spec: { arch: 'llama', weightType: 'Q4_1' } },
  { label: 'qwen2moe Q5_0', spec: { arch: 'qwen2moe', weightType: 'Q5_0' } },
  { label: 'olmoe Q5_1', spec: { arch: 'olmoe', weightType: 'Q5_1' } },
  { label: 'granitemoe IQ4_NL', spec: { arch: 'granitemoe', weightType: 'IQ4_NL' } },
  { label: 'qwen3moe MXFP4', spec: { arch: 'qwen3moe', weightType: 'MXFP4' } },
  { label: 'llama Q2_K', spec: { arch: 'llama', preset: 'tiny256', weightType: 'Q2_K' } },
  { label: 'qwen3moe Q3_K', spec: { arch: 'qwen3moe', preset: 'tiny256', weightType: 'Q3_K' } },
  { label: 'olmoe Q4_K', spec: { arch: 'olmoe', preset: 'tiny256', weightType: 'Q4_K' } },
  { label: 'granitemoe Q5_K', spec: { arch: 'granitemoe', preset: 'tiny256', weightType: 'Q5_K' } },
  { label: 'grok Q6_K', spec: { arch: 'grok', preset: 'tiny256', weightType: 'Q6_K' } },
  { label: 'llama IQ4_XS', spec: { arch: 'llama', preset: 'tiny256', weightType: 'IQ4_XS' } },
  // llama.cpp's Q4_K_M mix
  ...MOE_ARCHS.map((arch): Case => ({ label: `${arch} Q4_K_M`, spec: { arch, preset: 'tiny256', recipe: 'Q4_K_M' } })),
  { label: 'llama dense Q4_K_M', spec: { arch: 'llama', preset: 'tiny256', recipe: 'Q4_K_M', n_expert: 0 } },
  { label: 'qwen3moe Q4_K_M tiny (fallbacks)', spec: { arch: 'qwen3moe', preset: 'tiny', recipe: 'Q4_K_M' } },
  // a per-tensor mix of the rest
  {
    label: 'qwen2moe mix',
    spec: {
      arch: 'qwen2moe',
      preset: 'tiny256',
      weightType: 'Q8_0',
      tensorTypes: { 'blk.*.ffn_gate_exps.weight': 'IQ4_XS', 'blk.*.ffn_up_exps.weight': 'Q5_1', 'blk.*.ffn_down_exps.weight': 'Q3_K', 'blk.*.attn_*': 'Q4_1', 'output.weight': 'Q2_K' },
    },
  },
];

interface Measured {
  label: string;
  stats: CompareStats;
  statsExact: CompareStats; // activation emulation off
  greedy: GreedyVerdict;
}
const measured: Measured[] = [];

async function measure(c: Case): Promise<Measured> {
  const path = await ensureModel(c.spec);
  const ref = await ReferenceModel.load(path);
  const exact = await ReferenceModel.load(path, { ...EXACT_NUMERICS, geluF16Table: true, ropeF32Theta: true });
  const prompts = randomPrompts(ref.cfg.n_vocab, PROMPTS, PROMPT_LEN, 99);
  const positions: PositionStats[] = [];
  const positionsExact: PositionStats[] = [];
  let greedy: GreedyVerdict | undefined;
  for (const [i, prompt] of prompts.entries()) {
    const nGreedy = i === 0 ? N_GREEDY : 0;
    const oracle = await oracleRun(path, prompt, nGreedy);
    ref.reset();
    const ours = ref.eval(prompt);
    exact.reset();
    positions.push(...compareRuns(oracle.logprobs, ours).positions);
    positionsExact.push(...compareRuns(oracle.logprobs, exact.eval(prompt)).positions);
    if (nGreedy > 0) {
      const mine = ref.greedyFrom(ours[ours.length - 1]!, nGreedy);
      greedy = await judgeGreedy(path, prompt, oracle.greedy, mine, (tokens) => {
        ref.reset();
        return ref.eval(tokens);
      });
    }
  }
  return { label: c.label, stats: summarize(positions), statsExact: summarize(positionsExact), greedy: greedy! };
}

const only = process.env.MOECODE_FORMAT_CASES;

/** Share of positions whose max |Δ log p| is within 1e-4. */
function exactShare(s: CompareStats): number {
  return s.positions.filter((p) => p.maxAbs <= 1e-4).length / Math.max(1, s.positions.length);
}

describe('CPU reference vs llama.cpp: formats without kernels', () => {
  after(async () => {
    await disposeOracle();
    const rows = measured.map((m) => [
      m.label,
      fmtE(m.stats.maxAbs),
      fmtE(m.stats.meanKl),
      `${(exactShare(m.stats) * 100).toFixed(0)}%`,
      `${(m.stats.top1Agreement * 100).toFixed(0)}%`,
      m.greedy.index < 0 ? 'same' : `${m.greedy.tie ? 'tie' : 'DIFF'} at ${m.greedy.index}`,
      fmtE(m.statsExact.maxAbs),
      fmtE(m.statsExact.meanKl),
    ]);
    console.log('\n' + formatTable(['case', 'max|Δ|', 'mean KL', '≤1e-4', 'top1', 'greedy', 'max|Δ| no emu', 'KL no emu'], rows));
  });

  for (const c of CASES) {
    test(c.label, { skip: only !== undefined && !c.label.includes(only) }, async (t) => {
      const m = await measure(c);
      measured.push(m);
      const s = m.stats;
      t.diagnostic(`max|Δ| ${fmtE(s.maxAbs)}, mean KL ${fmtE(s.meanKl)}, top-1 ${(s.top1Agreement * 100).toFixed(1)}%; without activation emulation max|Δ| ${fmtE(m.statsExact.maxAbs)}, mean KL ${fmtE(m.statsExact.meanKl)}`);
      assert.ok(s.meanKl <= 1e-2, `mean KL ${fmtE(s.meanKl)} > 1e-2`);
      assert.ok(s.top1Agreement >= 0.95, `top-1 agreement ${(s.top1Agreement * 100).toFixed(1)}% < 95%`);
      assert.ok(exactShare(s) >= 0.5, `only ${(exactShare(s) * 100).toFixed(0)}% of positions within 1e-4`);
      assert.ok(s.meanKl * 10 <= m.statsExact.meanKl, `emulated mean KL ${fmtE(s.meanKl)} not 10× below unemulated ${fmtE(m.statsExact.meanKl)}`);
      assert.ok(m.greedy.index < 0 || m.greedy.tie, `greedy continuations differ from token ${m.greedy.index} (top-2 gap ${fmtE(m.greedy.gap)}, |Δ| ${fmtE(m.greedy.delta)})`);
    });
  }
});
