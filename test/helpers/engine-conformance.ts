/**
 * Conformance of OUR engine (daemon/cli/eval.ts evalModel) against llama.cpp (node-llama-cpp, CPU, flash
 * attention off) on generated models, for one backend: a list of cases, each a generated model, a prompt,
 * and options; the same targets for every backend. llama.cpp's KV cache has the type of ours: F32 unless
 * the case asks for `kvType: 'f16'` (llama.cpp's default), then F16 on both sides.
 *
 * Targets (per case, over tokens whose llama.cpp log p > −30):
 *   F32   max |Δ log p| ≤ 2e-3 at every position; same 32 greedy tokens
 *   F16   max |Δ log p| ≤ 5e-2; mean KL(llama.cpp ‖ ours) ≤ 1e-4; same 32 greedy tokens
 *   F16 KV (F32 weights, f16 KV cache on both sides: ggml's roundings of q, K, V and the probabilities
 *         emulated, so only f32 summation order and a probability on an f16 rounding tie differ)
 *         max |Δ log p| ≤ 1e-2; mean KL ≤ 1e-4; same 32 greedy tokens
 *   quantised   mean KL ≤ 1e-2 over positions; same top-1 at ≥ 95% of positions
 * "Same greedy tokens" allows one kind of divergence: where llama.cpp's top two candidates are closer than
 * twice the measured |Δ log p| at that step and we took its second choice (a tie decided by rounding; see
 * test/helpers/greedy-check.ts). The table printed at the end shows it as "tie".
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { evalModel, type EvalOptions, type EvalResult } from '../../daemon/cli/eval.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';
import { judgeGreedy, type GreedyVerdict } from './greedy-check.js';
import { disposeOracle, oracleRun, type OracleOptions, type OracleResult } from './llama-oracle.js';
import { compareRuns, fmtE, formatTable, type CompareStats } from './logprob-compare.js';
import { randomPrompts } from './prompts.js';

export const N_GREEDY = 32;
const PROMPT_LEN = 32;

export type Target = 'F32' | 'F16' | 'F16 KV' | 'quantised';

export interface ConformanceCase {
  label: string;
  spec: ModelSpecInput;
  target: Target;
  promptLength?: number;
  opts?: EvalOptions;
  /** Checks the evaluation itself (e.g. that the row-shard path was taken). */
  check?: (r: EvalResult) => void;
}

export function targetOf(type: string): Target {
  return type === 'F32' ? 'F32' : type === 'F16' || type === 'BF16' ? 'F16' : 'quantised';
}

interface Row {
  label: string;
  stats: CompareStats;
  greedy: GreedyVerdict;
  ms: number;
}

/** llama.cpp's answers, computed once per (model, prompt) within this process. */
const oracleCache = new Map<string, Promise<OracleResult>>();
function oracleOnce(path: string, prompt: number[], nGreedy: number, oracle: OracleOptions): Promise<OracleResult> {
  const key = `${path}|${nGreedy}|${oracle.kvType ?? 'F32'}|${prompt.join(',')}`;
  let r = oracleCache.get(key);
  if (!r) oracleCache.set(key, (r = oracleRun(path, prompt, nGreedy, oracle)));
  return r;
}

/** llama.cpp's KV cache type for our options: F16 when ours is f16. */
export function oracleOptionsFor(opts: EvalOptions): OracleOptions {
  return { kvType: opts.kvType === 'f16' ? 'F16' : 'F32' };
}

function greedyText(g: GreedyVerdict): string {
  if (g.index < 0) return 'same';
  return `${g.tie ? 'tie' : 'DIFF'} at ${g.index} (gap ${fmtE(g.gap, 0)}, |Δ| ${fmtE(g.delta, 0)})`;
}

/**
 * Registers one test per case. `unavailable` (checked before each case) returns a reason to skip, e.g.
 * no WebGPU adapter; `isUnavailable` recognises a load error meaning the backend cannot run here.
 */
export function conformanceSuite(name: string, cases: ConformanceCase[], base: EvalOptions, isUnavailable: (e: unknown) => boolean = () => false): void {
  const rows: Row[] = [];
  let unavailable: string | undefined;
  describe(name, () => {
    after(async () => {
      await disposeOracle();
      if (rows.length === 0) return;
      const table = rows.map((r) => [r.label, fmtE(r.stats.maxAbs), fmtE(r.stats.meanKl), fmtE(r.stats.maxKl), `${(r.stats.top1Agreement * 100).toFixed(0)}%`, greedyText(r.greedy), `${(r.ms / 1000).toFixed(1)}s`]);
      console.log('\n' + formatTable(['case', 'max|Δ|', 'mean KL', 'max KL', 'top1', 'greedy', 'engine'], table));
    });
    for (const c of cases) {
      test(c.label, async (t) => {
        if (unavailable) return t.skip(unavailable);
        const path = await ensureModel(c.spec);
        const nVocab = c.spec.n_vocab ?? 512;
        const [prompt] = randomPrompts(nVocab, 1, c.promptLength ?? PROMPT_LEN, 4321);
        const opts: EvalOptions = { ...base, ...c.opts };
        const t0 = performance.now();
        let ours: EvalResult;
        try {
          ours = await evalModel(path, prompt!, N_GREEDY, opts);
        } catch (e) {
          if (isUnavailable(e)) {
            unavailable = `${name} cannot run here: ${(e as Error).message}`;
            return t.skip(unavailable);
          }
          throw e;
        }
        const ms = performance.now() - t0;
        const oracleOpts = oracleOptionsFor(opts);
        const oracle = await oracleOnce(path, prompt!, N_GREEDY, oracleOpts);
        assert.equal(ours.logprobs.length, prompt!.length, 'one distribution per prompt position');
        assert.equal(ours.greedy.length, N_GREEDY, 'greedy token count');
        c.check?.(ours);
        const stats = compareRuns(oracle.logprobs, ours.logprobs);
        const greedy = await judgeGreedy(path, prompt!, oracle.greedy, ours.greedy, async (tokens) => (await evalModel(path, tokens, 0, opts)).logprobs, oracleOpts);
        rows.push({ label: c.label, stats, greedy, ms });
        t.diagnostic(`max|Δ| ${fmtE(stats.maxAbs)}, mean KL ${fmtE(stats.meanKl)}, top-1 ${(stats.top1Agreement * 100).toFixed(1)}%, greedy ${greedyText(greedy)}`);
        const greedyOk = greedy.index < 0 || greedy.tie;
        switch (c.target) {
          case 'F32': {
            const worst = stats.positions.findIndex((p) => !(p.maxAbs <= 2e-3));
            assert.ok(worst < 0, `max |Δ log p| ${fmtE(stats.positions[worst]?.maxAbs ?? NaN)} > 2e-3 at position ${worst}`);
            assert.ok(greedyOk, `greedy tokens differ: ${greedyText(greedy)}`);
            break;
          }
          case 'F16 KV':
            assert.ok(stats.maxAbs <= 1e-2, `max |Δ log p| ${fmtE(stats.maxAbs)} > 1e-2`);
            assert.ok(stats.meanKl <= 1e-4, `mean KL ${fmtE(stats.meanKl)} > 1e-4`);
            assert.ok(greedyOk, `greedy tokens differ: ${greedyText(greedy)}`);
            break;
          case 'F16':
            assert.ok(stats.maxAbs <= 5e-2, `max |Δ log p| ${fmtE(stats.maxAbs)} > 5e-2`);
            assert.ok(stats.meanKl <= 1e-4, `mean KL ${fmtE(stats.meanKl)} > 1e-4`);
            assert.ok(greedyOk, `greedy tokens differ: ${greedyText(greedy)}`);
            break;
          case 'quantised':
            assert.ok(stats.meanKl <= 1e-2, `mean KL ${fmtE(stats.meanKl)} > 1e-2`);
            assert.ok(stats.top1Agreement >= 0.95, `top-1 agreement ${(stats.top1Agreement * 100).toFixed(1)}% < 95%`);
            break;
        }
      });
    }
  });
}
