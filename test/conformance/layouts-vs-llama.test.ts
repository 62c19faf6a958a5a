/**
 * The GGUF files people actually have, on both backends against llama.cpp (node-llama-cpp, CPU, F32 KV
 * cache, flash attention off), on generated tiny models:
 *   qwen2 dense with q/k/v biases (F32, Q8_0, tied output), qwen2moe with biases, llama dense with
 *   attn_output and FFN biases (a bias on a partial sum), a model split into three files (opened through
 *   its last part), an old Mixtral file with one tensor per expert (vs llama.cpp on the same weights in
 *   merged tensors: llama.cpp refuses the old layout), rope_freqs frequency factors (Llama 3.x), YaRN
 *   (NEOX and NORM RoPE; with rope_freqs too).
 * Each case runs on the WebGPU backend (SwiftShader here) and on the CPU backend with two ranks
 * (tensor-parallel: biases on split heads and FFN slices, on partial sums), with an F32 KV cache.
 *
 * Targets, as the engine conformance (engine-vs-llama.test.ts):
 *   F32    max |Δ log p| ≤ 2e-3 at every position (tokens with llama.cpp log p > −30); same 32 greedy
 *          tokens (a divergence at a near tie of llama.cpp's top two is accepted: greedy-check.ts)
 *   Q8_0   mean KL ≤ 1e-2 over positions; same top-1 at ≥ 95% of positions
 * Controls: for biases, rope_freqs and YaRN, llama.cpp's own answers on the same weights without the
 * feature must differ by more than 50× the F32 tolerance — so a backend that ignored it would fail.
 *
 * Skips a backend (with the reason) when it is unavailable: no WebGPU adapter, or the CPU kernels
 * (dist/moecode-cpu.wasm, MOECODE_CPU_WASM) not built.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Model } from '../../daemon/engine/model.js';
import { splitPartPaths } from '../../daemon/gguf/gguf-split.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { resolveSpec, type ModelSpecInput } from '../../tools/modelgen/model-spec.js';
import { judgeGreedy, type GreedyVerdict } from '../helpers/greedy-check.js';
import { disposeOracle, oracleRun, type OracleResult } from '../helpers/llama-oracle.js';
import { compareRuns, fmtE, formatTable, type CompareStats } from '../helpers/logprob-compare.js';
import { randomPrompts } from '../helpers/prompts.js';

type Backend = 'gpu' | 'cpu';
const BACKENDS: Backend[] = ['gpu', 'cpu'];
const N_GREEDY = 32;
const F32_TOL = 2e-3;

interface Case {
  label: string;
  /** The model our engine loads. */
  spec: ModelSpecInput;
  /** The model llama.cpp loads, when it cannot load ours (old per-expert layout): the same weights. */
  oracleSpec?: ModelSpecInput;
  /** The same weights without the feature under test: llama.cpp must answer differently on it. */
  control?: ModelSpecInput;
  kind: 'f32' | 'quant';
  promptLength?: number;
  /** Which part of a split model our engine is given (0-based; default the first). */
  openPart?: number;
}

const YARN = { type: 'yarn', factor: 4, original_context_length: 128 } as const;

const CASES: Case[] = [
  { label: 'qwen2 biases F32', spec: { arch: 'qwen2' }, control: { arch: 'qwen2', biases: false }, kind: 'f32' },
  { label: 'qwen2 biases Q8_0', spec: { arch: 'qwen2', weightType: 'Q8_0' }, kind: 'quant' },
  { label: 'qwen2 biases F32 tied', spec: { arch: 'qwen2', tied_output: true }, kind: 'f32' },
  { label: 'qwen2moe biases F32', spec: { arch: 'qwen2moe', biases: true }, control: { arch: 'qwen2moe' }, kind: 'f32' },
  { label: 'qwen2moe biases Q8_0', spec: { arch: 'qwen2moe', biases: true, weightType: 'Q8_0' }, kind: 'quant' },
  { label: 'llama dense o/FFN biases F32', spec: { arch: 'llama', n_expert: 0, biases: true }, control: { arch: 'llama', n_expert: 0 }, kind: 'f32' },
  { label: 'qwen2 split 3 files F32', spec: { arch: 'qwen2', split_parts: 3 }, kind: 'f32', openPart: 2 },
  { label: 'qwen2moe split 3 files Q8_0', spec: { arch: 'qwen2moe', weightType: 'Q8_0', split_parts: 3 }, kind: 'quant', openPart: 1 },
  { label: 'llama per-expert F32', spec: { arch: 'llama', expert_layout: 'per-expert' }, oracleSpec: { arch: 'llama' }, kind: 'f32' },
  { label: 'llama per-expert Q8_0', spec: { arch: 'llama', weightType: 'Q8_0', expert_layout: 'per-expert' }, oracleSpec: { arch: 'llama', weightType: 'Q8_0' }, kind: 'quant' },
  { label: 'llama rope_freqs F32', spec: { arch: 'llama', rope_freqs: true }, control: { arch: 'llama' }, kind: 'f32', promptLength: 128 },
  { label: 'qwen3moe YaRN F32', spec: { arch: 'qwen3moe', rope_scaling: YARN }, control: { arch: 'qwen3moe', rope_scaling: { type: 'linear', factor: 4 } }, kind: 'f32', promptLength: 128 },
  { label: 'qwen2 YaRN F32', spec: { arch: 'qwen2', rope_scaling: YARN }, control: { arch: 'qwen2' }, kind: 'f32', promptLength: 128 },
  {
    label: 'llama YaRN + rope_freqs F32',
    spec: { arch: 'llama', n_expert: 0, rope_freqs: true, rope_scaling: YARN },
    control: { arch: 'llama', n_expert: 0, rope_freqs: true, rope_scaling: { type: 'linear', factor: 4 } },
    kind: 'f32',
    promptLength: 128,
  },
];

interface Row {
  label: string;
  stats: CompareStats;
  greedy: GreedyVerdict;
  ms: number;
}
const rows: Row[] = [];
const unavailable = new Map<Backend, string>();

const oracleCache = new Map<string, Promise<OracleResult>>();
function oracleOnce(path: string, prompt: number[], nGreedy: number): Promise<OracleResult> {
  const key = `${path}|${nGreedy}|${prompt.join(',')}`;
  let r = oracleCache.get(key);
  if (!r) oracleCache.set(key, (r = oracleRun(path, prompt, nGreedy)));
  return r;
}

function logSoftmax(logits: Float32Array): Float64Array {
  let max = -Infinity;
  for (const v of logits) max = Math.max(max, v);
  let sum = 0;
  for (const v of logits) sum += Math.exp(v - max);
  const lse = max + Math.log(sum);
  return Float64Array.from(logits, (v) => v - lse);
}

function argmax(a: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < a.length; i++) if (a[i]! > a[best]!) best = i;
  return best;
}

/** Our log-softmax after every prompt position and a greedy continuation, on one backend. */
async function evalOurs(path: string, backend: Backend, tokens: number[], nGreedy: number): Promise<{ logprobs: Float64Array[]; greedy: number[] }> {
  const model = await Model.load(path, { backend, allLogits: true, nCtx: Math.max(64, tokens.length + nGreedy + 1), threads: 2, kvType: 'f32' });
  try {
    const rows = await model.feedAndReadLogits(0, 0, tokens);
    const greedy: number[] = [];
    if (nGreedy > 0) {
      let next = argmax(rows.at(-1)!);
      let pos = tokens.length;
      greedy.push(next);
      while (greedy.length < nGreedy) {
        next = await model.feedAndSample(0, pos, [next], { temperature: 0, topK: 1, topP: 1, seed: 0 }, pos);
        pos++;
        greedy.push(next);
      }
    }
    return { logprobs: rows.map(logSoftmax), greedy };
  } finally {
    await model.dispose();
  }
}

function unavailableReason(e: unknown): string | undefined {
  if (!(e instanceof Error)) return undefined;
  if (e.name === 'GpuUnavailableError' || /no (webgpu )?adapter/i.test(e.message)) return `no WebGPU adapter: ${e.message}`;
  if (e.name === 'CpuBackendUnavailableError') return `CPU backend unavailable: ${e.message}`;
  return undefined;
}

function greedyText(g: GreedyVerdict): string {
  if (g.index < 0) return 'same';
  return `${g.tie ? 'tie' : 'DIFF'} at ${g.index} (gap ${fmtE(g.gap, 0)}, |Δ| ${fmtE(g.delta, 0)})`;
}

describe('layouts and architectures vs llama.cpp', () => {
  after(async () => {
    await disposeOracle();
    if (rows.length) {
      const table = rows.map((r) => [r.label, fmtE(r.stats.maxAbs), fmtE(r.stats.meanKl), `${(r.stats.top1Agreement * 100).toFixed(0)}%`, greedyText(r.greedy), `${(r.ms / 1000).toFixed(1)}s`]);
      console.log('\n' + formatTable(['case', 'max|Δ|', 'mean KL', 'top1', 'greedy', 'ours'], table));
    }
  });

  for (const c of CASES) {
    for (const backend of BACKENDS) {
      test(`${c.label} (${backend})`, async (t) => {
        const skip = unavailable.get(backend);
        if (skip) return t.skip(skip);
        const spec = resolveSpec(c.spec);
        const path = await ensureModel(spec);
        const ourPath = c.openPart ? splitPartPaths(path, 0, spec.split_parts!)![c.openPart]! : path;
        const oraclePath = c.oracleSpec ? await ensureModel(c.oracleSpec) : path;
        const [prompt] = randomPrompts(spec.n_vocab, 1, c.promptLength ?? 32, 8765);
        const t0 = performance.now();
        let ours: Awaited<ReturnType<typeof evalOurs>>;
        try {
          ours = await evalOurs(ourPath, backend, prompt!, N_GREEDY);
        } catch (e) {
          const why = unavailableReason(e);
          if (!why) throw e;
          unavailable.set(backend, why);
          return t.skip(why);
        }
        const ms = performance.now() - t0;
        const oracle = await oracleOnce(oraclePath, prompt!, N_GREEDY);
        const stats = compareRuns(oracle.logprobs, ours.logprobs);
        const greedy = await judgeGreedy(oraclePath, prompt!, oracle.greedy, ours.greedy, async (tokens) => (await evalOurs(ourPath, backend, tokens, 0)).logprobs);
        rows.push({ label: `${c.label} (${backend})`, stats, greedy, ms });
        t.diagnostic(`max|Δ| ${fmtE(stats.maxAbs)}, mean KL ${fmtE(stats.meanKl)}, top-1 ${(stats.top1Agreement * 100).toFixed(1)}%, greedy ${greedyText(greedy)}`);
        if (c.kind === 'f32') {
          const worst = stats.positions.findIndex((p) => !(p.maxAbs <= F32_TOL));
          assert.ok(worst < 0, `max |Δ log p| ${fmtE(stats.positions[worst]?.maxAbs ?? NaN)} > ${F32_TOL} at position ${worst}`);
          assert.ok(greedy.index < 0 || greedy.tie, `greedy tokens differ: ${greedyText(greedy)}`);
        } else {
          assert.ok(stats.meanKl <= 1e-2, `mean KL ${fmtE(stats.meanKl)} > 1e-2`);
          assert.ok(stats.top1Agreement >= 0.95, `top-1 agreement ${(stats.top1Agreement * 100).toFixed(1)}% < 95%`);
        }
      });
    }
    if (c.control) {
      test(`${c.label}: control — llama.cpp without the feature answers differently`, async () => {
        const spec = resolveSpec(c.spec);
        const [prompt] = randomPrompts(spec.n_vocab, 1, c.promptLength ?? 32, 8765);
        const withIt = await oracleOnce(await ensureModel(spec), prompt!, 0);
        const without = await oracleOnce(await ensureModel(c.control!), prompt!, 0);
        const d = compareRuns(withIt.logprobs, without.logprobs);
        assert.ok(d.maxAbs > 50 * F32_TOL, `the feature moves llama.cpp's log p by only ${fmtE(d.maxAbs)}: this case could not catch a backend ignoring it`);
      });
    }
  }
});
