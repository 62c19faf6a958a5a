/**
 * The files people download, end to end through the command line: `moecode eval --json` (the built CLI,
 * bin/moecode.js, as a user runs it; auto backend) against llama.cpp on generated models shaped like real
 * downloads — a Q4_K_M mix (llama.cpp's recipe: Q6_K output/attn_v/ffn_down, Q4_K elsewhere, Q8_0/Q5_K
 * where it puts them), a SentencePiece (Mixtral-style) model, a model split into three files opened through
 * its second part, and dense qwen2 (Qwen2.5-Coder) with q/k/v biases. Targets as the quantised
 * conformance: mean KL ≤ 1e-2 per position, same top-1 at ≥ 95% of positions, and the same greedy tokens
 * (a tie decided by rounding allowed, test/helpers/greedy-check.ts).
 * Skips with the reason when the CLI is not built.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { splitPartPaths } from '../../daemon/gguf/gguf-split.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import type { ModelSpecInput } from '../../tools/modelgen/model-spec.js';
import { judgeGreedy } from '../helpers/greedy-check.js';
import { disposeOracle, oracleRun } from '../helpers/llama-oracle.js';
import { compareRuns, fmtE } from '../helpers/logprob-compare.js';
import { randomPrompts } from '../helpers/prompts.js';

const REPO = resolve(__dirname, '..', '..');
const CLI = join(REPO, 'bin', 'moecode.js');
const built = existsSync(join(REPO, 'dist', 'cli.js'));
const N_GREEDY = 16;

async function cliEval(path: string, tokens: number[], greedy: number): Promise<{ logprobs: Float32Array[]; greedy: number[] }> {
  const { stdout } = await promisify(execFile)(process.execPath, [CLI, 'eval', path, '--tokens', tokens.join(','), '--greedy', String(greedy), '--json'], { maxBuffer: 1 << 30 });
  const r = JSON.parse(stdout) as { logprobs: number[][]; greedy: number[] };
  return { logprobs: r.logprobs.map((row) => Float32Array.from(row)), greedy: r.greedy };
}

const CASES: { label: string; spec: ModelSpecInput; open?: (path: string) => string }[] = [
  { label: 'qwen3moe Q4_K_M', spec: { arch: 'qwen3moe', preset: 'tiny256', recipe: 'Q4_K_M' } },
  { label: 'mixtral (llama) Q4_K_M, SentencePiece', spec: { arch: 'llama', preset: 'tiny256', recipe: 'Q4_K_M', tokenizer: 'llama' } },
  { label: 'qwen2 dense with biases, Q4_K_M', spec: { arch: 'qwen2', preset: 'tiny256', recipe: 'Q4_K_M' } },
  { label: 'qwen2moe Q8_0 split into 3 files, opened through part 2', spec: { arch: 'qwen2moe', weightType: 'Q8_0', split_parts: 3 }, open: (p) => splitPartPaths(p, 0, 3)![1]! },
];

after(() => disposeOracle());

for (const c of CASES) {
  test(`moecode eval: ${c.label} matches llama.cpp`, { skip: built ? false : 'dist/cli.js is not built (npm run build)' }, async (t) => {
    const first = await ensureModel(c.spec);
    const path = c.open ? c.open(first) : first;
    assert.ok(existsSync(path), `${path} exists`);
    const nVocab = c.spec.tokenizer === 'llama' ? 3000 : (c.spec.n_vocab ?? 512);
    const [prompt] = randomPrompts(nVocab, 1, 24, 777);
    const ours = await cliEval(path, prompt!, N_GREEDY);
    const oracle = await oracleRun(first, prompt!, N_GREEDY);
    const stats = compareRuns(oracle.logprobs, ours.logprobs);
    const greedy = await judgeGreedy(first, prompt!, oracle.greedy, ours.greedy, async (tokens) => (await cliEval(path, tokens, 0)).logprobs);
    t.diagnostic(`mean KL ${fmtE(stats.meanKl)}, top-1 ${(stats.top1Agreement * 100).toFixed(1)}%, greedy ${greedy.index < 0 ? 'same' : `${greedy.tie ? 'tie' : 'DIFF'} at ${greedy.index}`}`);
    assert.ok(stats.meanKl <= 1e-2, `mean KL ${fmtE(stats.meanKl)} > 1e-2`);
    assert.ok(stats.top1Agreement >= 0.95, `top-1 agreement ${(stats.top1Agreement * 100).toFixed(1)}% < 95%`);
    assert.ok(greedy.index < 0 || greedy.tie, `greedy tokens differ at ${greedy.index}`);
  });
}
