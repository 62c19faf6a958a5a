/**
 * Conformance of the WebGPU backend against llama.cpp (node-llama-cpp, CPU, F32 KV cache) on generated
 * models in the formats whose GPU kernels exist but whose CPU kernels may not yet (so the engine's loader
 * still refuses them; test/conformance/gpu-eval.ts loads through the GPU backend with GPU_WEIGHT_TYPES):
 * each new type on at least one architecture (32-wide blocks on the tiny preset, 256-wide on tiny256),
 * llama.cpp's Q4_K_M mix on all six MoE architectures, the mix on the tiny preset (every K-quant falls
 * back to Q5_0 / Q5_1 / Q8_0), a per-tensor mix of the rest, and row shards (a 16 KiB binding limit) for
 * K-quant planes.
 *
 * Targets (per case, over tokens whose llama.cpp log p > −30): mean KL(llama.cpp ‖ ours) ≤ 1e-2 over
 * positions; the same top-1 token at ≥ 95% of positions; the same greedy tokens, except where llama.cpp's
 * top two candidates are closer than twice the measured |Δ log p| at that step and we took its second
 * choice (a tie decided by rounding; test/helpers/greedy-check.ts). The table printed at the end shows it
 * as "tie".
 *
 * MOECODE_GPU_FORMAT_CASES=<substring> runs only the cases whose label contains it. Skips (with the
 * reason) when no WebGPU adapter is available.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { GpuUnavailableError } from '../../daemon/gpu/device.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { MOE_ARCHS } from '../../tools/modelgen/model-spec.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';
import { judgeGreedy } from '../helpers/greedy-check.js';
import type { GreedyVerdict } from '../helpers/greedy-check.js';
import { disposeOracle, oracleRun } from '../helpers/llama-oracle.js';
import { compareRuns, fmtE, formatTable } from '../helpers/logprob-compare.js';
import type { CompareStats } from '../helpers/logprob-compare.js';
import { randomPrompts } from '../helpers/prompts.js';
import { evalOnGpu, type GpuEvalOptions } from './gpu-eval.js';

const N_GREEDY = 24;
const PROMPT_LEN = 32;
const SHARD_BYTES = 16 * 1024;

interface Case {
  label: string;
  spec: ModelSpecInput;
  opts?: GpuEvalOptions;
}

const CASES: Case[] = [
  // each new type on one architecture
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
  { label: 'qwen3moe Q4_K_M tiny (fallbacks)', spec: { arch: 'qwen3moe', preset: 'tiny', recipe: 'Q4_K_M' } },
  { label: 'qwen2moe Q4_K_M shards 16K', spec: { arch: 'qwen2moe', preset: 'tiny256', recipe: 'Q4_K_M' }, opts: { maxBindingBytes: SHARD_BYTES } },
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

interface Row {
  label: string;
  stats: CompareStats;
  greedy: GreedyVerdict;
  ms: number;
}
const rows: Row[] = [];
const only = process.env.MOECODE_GPU_FORMAT_CASES;
let unavailable: string | undefined;

function greedyText(g: GreedyVerdict): string {
  if (g.index < 0) return 'same';
  return `${g.tie ? 'tie' : 'DIFF'} at ${g.index} (gap ${fmtE(g.gap, 0)}, |Δ| ${fmtE(g.delta, 0)})`;
}

describe('WebGPU backend vs llama.cpp: every GPU format', () => {
  after(async () => {
    await disposeOracle();
    if (rows.length === 0) return;
    const table = rows.map((r) => [
      r.label,
      fmtE(r.stats.maxAbs),
      fmtE(r.stats.meanKl),
      fmtE(r.stats.maxKl),
      `${(r.stats.top1Agreement * 100).toFixed(0)}%`,
      greedyText(r.greedy),
      `${(r.ms / 1000).toFixed(1)}s`,
    ]);
    console.log('\n' + formatTable(['case', 'max|Δ|', 'mean KL', 'max KL', 'top1', 'greedy', 'gpu'], table));
  });

  for (const c of CASES) {
    test(c.label, { skip: only !== undefined && !c.label.includes(only) }, async (t) => {
      if (unavailable) return t.skip(unavailable);
      const path = await ensureModel(c.spec);
      const nVocab = c.spec.n_vocab ?? 512;
      const [prompt] = randomPrompts(nVocab, 1, PROMPT_LEN, 4321);
      const t0 = performance.now();
      let ours: Awaited<ReturnType<typeof evalOnGpu>>;
      try {
        ours = await evalOnGpu(path, prompt!, N_GREEDY, c.opts);
      } catch (e) {
        if (e instanceof GpuUnavailableError) {
          unavailable = `no WebGPU adapter: ${e.message}`;
          return t.skip(unavailable);
        }
        throw e;
      }
      const ms = performance.now() - t0;
      const oracle = await oracleRun(path, prompt!, N_GREEDY);
      assert.equal(ours.logprobs.length, prompt!.length, 'one distribution per prompt position');
      assert.equal(ours.greedy.length, N_GREEDY, 'greedy token count');
      if (c.opts?.maxBindingBytes) assert.ok(ours.shardedMatrices > 0, `the ${c.opts.maxBindingBytes}-byte binding limit split no matrix into row shards`);
      const stats = compareRuns(oracle.logprobs, ours.logprobs);
      const greedy = await judgeGreedy(path, prompt!, oracle.greedy, ours.greedy, async (tokens) => (await evalOnGpu(path, tokens, 0, c.opts)).logprobs);
      rows.push({ label: c.label, stats, greedy, ms });
      t.diagnostic(`max|Δ| ${fmtE(stats.maxAbs)}, mean KL ${fmtE(stats.meanKl)}, top-1 ${(stats.top1Agreement * 100).toFixed(1)}%, greedy ${greedyText(greedy)}`);
      assert.ok(stats.meanKl <= 1e-2, `mean KL ${fmtE(stats.meanKl)} > 1e-2`);
      assert.ok(stats.top1Agreement >= 0.95, `top-1 agreement ${(stats.top1Agreement * 100).toFixed(1)}% < 95%`);
      assert.ok(greedy.index < 0 || greedy.tie, `greedy tokens differ: ${greedyText(greedy)}`);
    });
  }
});
