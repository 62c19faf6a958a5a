/**
 * `npm run bench:grok`: Grok-1 at its true shapes. Generates (once; cached under .cache/models) the
 * grok1-slice model — 2 of Grok-1's 64 layers with its exact dimensions (n_embd 6144, 48/8 heads of 128,
 * 8 experts of width 32,768, top-2, vocab 131,072, its norms, soft-cap and scales) — in Q4_0 (~6.4 GB) and
 * Q8_0 (~12.2 GB), runs it through our engine and llama.cpp, and prints:
 *   1. measured on the slice: load, prefill, decode step, the per-layer time (attention + MoE) and the
 *      output head's time apart (CPU backend: a feed step runs the layers only, a sampling step adds the
 *      head), peak RSS, and each decode step against this machine's read-bandwidth bound;
 *   2. Grok-1's memory plan at 64 layers (bytes per class, KV per 1k tokens, bytes read per token);
 *   3. expected decode tok/s for this machine (from the measured times, and from measured bandwidths with
 *      the model in RAM and on disk), one 24 GB GPU with 192 GB RAM, and eight 80 GB GPUs, with every
 *      bandwidth and placement assumption stated.
 * The GPU backend runs under a GPU budget smaller than the slice (moecode-gpu-budget: the non-expert part
 * plus --gpu-expert-share of the experts, 25% by default; the other experts in host memory, run on the CPU
 * or uploaded by the expert executor), with its placement, expert cache hit rate, prefetch accuracy and
 * bytes uploaded per token; moecode-gpu (not in the default set) runs it fully resident. Here the GPU is
 * SwiftShader (the CPU itself: seconds per step), so the GPU runs are short.
 *
 *   node --import tsx tools/bench/bench-grok.ts [--types Q4_0,Q8_0] [--threads N] [--prompt 16] [--decode 4]
 *        [--gpu-prompt 4] [--gpu-decode 2] [--gpu-expert-share 0.25] [--ctx 1024]
 *        [--engines moecode-cpu,moecode-gpu-budget,llama.cpp,moecode-gpu] [--json FILE]
 * Each engine runs in its own child process, one after the other (each holds a whole slice in memory).
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { physicalCores } from '../../daemon/cpu/cpu-backend.js';
import { ensureModel } from '../modelgen/model-cache.js';
import { GROK1, GROK1_SLICE_UNTIED, resolveSpec, specHash } from '../modelgen/model-spec.js';
import { RESULT_PREFIX, type BenchJob, type BenchResult } from './bench-common.js';
import { benchPromptTokens, intOption, runBenchChild } from './bench-parent.js';
import { GROK_RESULT_PREFIX, type GrokChildJob, type GrokChildResult } from './bench-grok-child.js';
import { activeBytesPerToken, GB, GiB, grokPlan, STATED_PROFILES, thisMachineProfile, type SliceType } from './grok-plan.js';
import { assumptionLines, budgetTable, extrapolateMeasured, measuredTable, memoryPlanTable, profileTable, sliceTimes, table, type MeasuredRow } from './grok-report.js';
import { diskReadBandwidth, memoryReadBandwidth } from './read-bandwidth.js';

const ENGINES = ['moecode-cpu', 'moecode-gpu-budget', 'llama.cpp', 'moecode-gpu'] as const;
type Engine = (typeof ENGINES)[number];
const DEFAULT_ENGINES: readonly Engine[] = ['moecode-cpu', 'moecode-gpu-budget', 'llama.cpp'];
const TYPES: readonly SliceType[] = ['Q4_0', 'Q8_0'];

const USAGE = `usage: npm run bench:grok -- [--types Q4_0,Q8_0] [--threads N] [--prompt 16] [--decode 4] [--gpu-prompt 4] [--gpu-decode 2]
                           [--gpu-expert-share 0.25] [--ctx 1024] [--engines ${ENGINES.join(',')}] [--json FILE]`;

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

function parseOptions(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    options: {
      types: { type: 'string', default: TYPES.join(',') },
      threads: { type: 'string' },
      prompt: { type: 'string', default: '16' },
      decode: { type: 'string', default: '4' },
      'gpu-prompt': { type: 'string', default: '4' },
      'gpu-decode': { type: 'string', default: '2' },
      'gpu-expert-share': { type: 'string', default: '0.25' },
      ctx: { type: 'string', default: '1024' },
      engines: { type: 'string', default: DEFAULT_ENGINES.join(',') },
      json: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = intOption;
  const types = values.types.split(',').map((s) => s.trim());
  for (const t of types) if (!(TYPES as readonly string[]).includes(t)) throw new Error(`--types: ${t} is not one of ${TYPES.join(', ')}`);
  const share = Number(values['gpu-expert-share']);
  if (!(share >= 0 && share < 1)) throw new Error(`--gpu-expert-share: expected a share in [0, 1) (the budget must be smaller than the slice), got ${values['gpu-expert-share']}`);
  const engines = values.engines.split(',').map((s) => s.trim());
  for (const e of engines) if (!(ENGINES as readonly string[]).includes(e)) throw new Error(`--engines: ${e} is not one of ${ENGINES.join(', ')}`);
  return {
    types: types as SliceType[],
    threads: int('threads', values.threads, physicalCores(), 1),
    prompt: int('prompt', values.prompt, 16, 4),
    decode: int('decode', values.decode, 4, 1),
    gpuPrompt: int('gpu-prompt', values['gpu-prompt'], 4, 4),
    gpuDecode: int('gpu-decode', values['gpu-decode'], 2, 1),
    expertShare: share,
    ctx: int('ctx', values.ctx, 1024, 0),
    engines: engines as Engine[],
    json: values.json,
  };
}

/** MemAvailable from /proc/meminfo (bytes), or undefined off Linux. */
function memAvailable(): number | undefined {
  try {
    const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const t0 = performance.now();
  log(`bench:grok: ${opts.types.join(', ')}; engines ${opts.engines.join(', ')}; ${opts.threads} threads`);
  log('measuring memory read bandwidth ...');
  const hostBandwidth = await memoryReadBandwidth(opts.threads);
  log(`  ${(hostBandwidth / GB).toFixed(1)} GB/s with ${opts.threads} threads`);
  const dir = mkdtempSync(join(tmpdir(), 'moecode-bench-grok-'));
  const rows: MeasuredRow[] = [];
  const files: string[] = [];
  const sizes: Partial<Record<SliceType, number>> = {};
  let diskBandwidth: number | undefined;
  try {
    for (const type of opts.types) {
      const spec = resolveSpec({ arch: 'grok', preset: 'grok1-slice', weightType: type });
      log(`\n${type}: slice ${specHash(spec)} (generated once and cached; about a minute) ...`);
      const tg = performance.now();
      const model = await ensureModel(spec);
      const size = statSync(model).size;
      files.push(`${type}: ${model} (${(size / GB).toFixed(2)} GB)`);
      sizes[type] = size;
      log(`${type}: ${model}, ${(size / GB).toFixed(2)} GB (${((performance.now() - tg) / 1000).toFixed(0)} s)`);
      if (diskBandwidth === undefined) {
        diskBandwidth = diskReadBandwidth(model);
        log(`  disk: ${diskBandwidth ? `${(diskBandwidth / GB).toFixed(2)} GB/s direct reads` : 'not measured (dd with O_DIRECT failed)'}`);
      }
      const prompt = await benchPromptTokens(model, opts.prompt);
      for (const engine of opts.engines) {
        const te = performance.now();
        try {
          if (engine === 'llama.cpp') {
            const job: BenchJob = { model, prompt, workloads: [{ promptTokens: prompt.length, decodeTokens: 2 * opts.decode }], threads: opts.threads };
            const jobFile = join(dir, `${type}-llama.json`);
            writeFileSync(jobFile, JSON.stringify(job));
            log(`${type}: llama.cpp ...`);
            rows.push({ type, engine, result: await runBenchChild<BenchResult>([join(__dirname, 'bench-llama.ts'), jobFile], RESULT_PREFIX, 'llama.cpp') });
          } else {
            const backend = engine === 'moecode-cpu' ? 'cpu' : 'gpu';
            const gpuRun = backend === 'gpu';
            // SwiftShader's GPU memory is host memory: the GPU part, the host experts and the CPU ranks together
            // hold about the slice (budgeted) or the slice plus staging (resident)
            const need = size * (engine === 'moecode-gpu' ? 1.3 : 1.15);
            const avail = memAvailable() ?? totalmem();
            if (gpuRun && avail < need) {
              rows.push({ type, engine, result: `skipped: needs ~${(need / GiB).toFixed(1)} GiB of host memory here (SwiftShader), ${(avail / GiB).toFixed(1)} GiB available` });
              continue;
            }
            const job: GrokChildJob = {
              model,
              backend,
              threads: opts.threads,
              prompt: gpuRun ? prompt.slice(0, opts.gpuPrompt) : prompt,
              decodePairs: gpuRun ? opts.gpuDecode : opts.decode,
              expertShare: engine === 'moecode-gpu-budget' ? opts.expertShare : undefined,
            };
            const jobFile = join(dir, `${type}-${engine}.json`);
            writeFileSync(jobFile, JSON.stringify(job));
            const what = engine === 'moecode-gpu-budget' ? ` (GPU budget: non-expert part + ${(opts.expertShare * 100).toFixed(0)}% of the experts)` : gpuRun ? ' (fully resident)' : '';
            log(`${type}: ${engine}${what} ...`);
            rows.push({ type, engine, result: await runBenchChild<GrokChildResult>([join(__dirname, 'bench-grok-child.ts'), jobFile], GROK_RESULT_PREFIX, engine) });
          }
        } catch (e) {
          rows.push({ type, engine, result: e as Error });
          log(`${type}: ${engine} failed: ${(e as Error).message}`);
        }
        log(`${type}: ${engine} done in ${((performance.now() - te) / 1000).toFixed(0)} s`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  report(opts, rows, files, sizes, hostBandwidth, diskBandwidth, t0);
}

function report(
  opts: ReturnType<typeof parseOptions>,
  rows: MeasuredRow[],
  files: string[],
  sizes: Partial<Record<SliceType, number>>,
  hostBandwidth: number,
  diskBandwidth: number | undefined,
  t0: number,
): void {
  const cpu = cpus();
  const out: string[] = [];
  const slicePlan = (t: SliceType) => grokPlan(t, 2, !GROK1_SLICE_UNTIED);
  out.push(
    `moecode bench:grok: Grok-1 at its true shapes, a slice of 2 of its ${GROK1.n_layer} layers`,
    `  n_embd ${GROK1.n_embd}, ${GROK1.n_head}/${GROK1.n_head_kv} heads of ${GROK1.head_dim}, ${GROK1.n_expert} experts of width ${GROK1.n_ff_exp} (GELU), top-${GROK1.n_expert_used}, vocab ${GROK1.n_vocab}, context ${GROK1.n_ctx};`,
    '  sandwich RMS norms, attention logits x 0.0884 soft-capped at 30, embeddings x 78.38, logits x 0.577; router F32, norms F32;',
    `  the slice carries output.weight (Grok-1 ties it to the embedding: same bytes read per token). Random valid blocks.`,
    ...files.map((f) => `  ${f}`),
    `  ${cpu.length} x ${cpu[0]?.model.trim() ?? 'CPU'}, ${(totalmem() / GiB).toFixed(1)} GiB; load average at the end ${loadavg().map((x) => x.toFixed(1)).join(' ')}; total ${((performance.now() - t0) / 60000).toFixed(1)} min`,
    `  read bandwidth: memory ${(hostBandwidth / GB).toFixed(1)} GB/s (WebAssembly SIMD, ${opts.threads} threads), disk ${diskBandwidth ? `${(diskBandwidth / GB).toFixed(2)} GB/s (O_DIRECT)` : 'not measured'}`,
    '',
    `1. Measured on the slice (CPU: prompt ${opts.prompt}, ${opts.decode} decode steps of each kind; GPU/SwiftShader: prompt ${opts.gpuPrompt}, ${opts.gpuDecode}; llama.cpp: prompt ${opts.prompt}, decode ${2 * opts.decode})`,
    measuredTable(rows, slicePlan),
    '   per layer: one decode step\'s layers (attention + MoE; a feed step with no logits) / 2; head: output matmul + host sampling',
    '   (sampling step - feed step). The GPU backend\'s feed step computes the logits too: its per-layer figure includes half the head.',
    `   GB/s read: the bytes a decode step reads (${(activeBytesPerToken(slicePlan('Q4_0'), opts.prompt).total / GB).toFixed(2)} GB in Q4_0, ${(activeBytesPerToken(slicePlan('Q8_0'), opts.prompt).total / GB).toFixed(2)} GB in Q8_0) over the step's time;`,
    `   memory read bandwidth as WebAssembly SIMD streams it (the CPU backend's ceiling) was ${(hostBandwidth / GB).toFixed(1)} GB/s; native code can read more.`,
  );
  const budget = budgetTable(rows, sizes);
  if (budget) out.push('', `GPU backend under a GPU budget smaller than the slice (SwiftShader; counters over its ${opts.gpuDecode} decode step pairs)`, budget);
  out.push('', `2. Memory plan, Grok-1 at ${GROK1.n_layer} layers (the generator's tensor list with the output tied, as Grok-1 has it)`, memoryPlanTable(opts.types, opts.ctx));

  const machine = thisMachineProfile(totalmem(), hostBandwidth, diskBandwidth ?? 0.5 * GB, opts.threads);
  if (!diskBandwidth) machine.assumptions.push('disk bandwidth not measured here: 0.5 GB/s assumed');
  out.push('', `3. Expected decode speed of Grok-1 (${GROK1.n_layer} layers, context ${opts.ctx})`);
  const measuredLines: string[][] = [];
  for (const r of rows) {
    if (r.engine !== 'moecode-cpu' || typeof r.result !== 'object' || r.result instanceof Error || !('sampleMs' in r.result)) continue;
    const t = sliceTimes(r.result);
    const x = extrapolateMeasured(t, GROK1.n_layer);
    measuredLines.push([r.type, `64 x ${t.layerMs.toFixed(1)} ms + head ${t.headMs.toFixed(1)} ms`, `${rate(x.decodeTokPerS)} tok/s`, `${rate(x.prefillTokPerS)} tok/s`]);
  }
  if (measuredLines.length) {
    out.push('this machine, from the measured per-layer and head times (as if memory held all 64 layers):');
    out.push(table(['type', 'decode step', 'decode', `prefill (${opts.prompt}-token prompt)`], measuredLines));
  }
  out.push('bandwidth bounds:', profileTable([machine, ...STATED_PROFILES], opts.types, opts.ctx), '', 'Assumptions:', ...assumptionLines([machine, ...STATED_PROFILES], opts.ctx));
  console.log(`\n${out.join('\n')}`);
  if (opts.json) {
    const plain = rows.map((r) => ({ ...r, result: r.result instanceof Error ? { error: r.result.message } : r.result }));
    writeFileSync(opts.json, `${JSON.stringify({ options: opts, hostBandwidth, diskBandwidth, rows: plain }, null, 2)}\n`);
  }
  if (rows.some((r) => r.result instanceof Error)) process.exitCode = 1;
}

function rate(n: number): string {
  return Number.isFinite(n) && n > 0 ? (n < 0.1 ? n.toPrecision(2) : n.toFixed(n < 10 ? 2 : 1)) : '-';
}

main().catch((e: unknown) => {
  console.error(`bench:grok: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
  process.exit(2);
});
