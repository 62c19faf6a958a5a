/**
 * `npm run bench`: this engine's two backends against llama.cpp on the generated bench model (qwen3moe
 * layout, vocab 32000, n_embd 2048, 16 layers, 16/4 heads, head dim 128, 8 experts top-2, expert width
 * 2048: ~1.9 B parameters, ~0.7 B active per token), for each weight type, in the same run and with the
 * same thread count: prefill tok/s on a 512-token prompt, decode tok/s over 128 tokens, time to first
 * token, peak RSS. Each engine runs in its own child process, so each peak RSS (VmHWM) is its own.
 *
 *   node --import tsx tools/bench/bench-engine.ts [--quick] [--types Q8_0,Q4_0[,Q4_K_M,...]] [--prompt N] [--decode N]
 *        [--soft-prompt N] [--soft-decode N] [--threads N] [--engines moecode-cpu,moecode-gpu,llama.cpp] [--json FILE]
 *
 * The CPU backend (WebAssembly SIMD) runs the full workload. The GPU backend on a software adapter
 * (SwiftShader: seconds per token for this model) runs a smaller workload, --soft-prompt/--soft-decode
 * (default 32/8), so the whole run stays within ~15 minutes; then llama.cpp runs that same workload too
 * (its ratio line compares like with like) besides the full one. --quick: 64/16 and 8/2 (a smoke run).
 * --threads (default 2): llama.cpp's and the CPU backend's threads. Models are generated once and cached
 * under .cache/models (about 2 GB for Q8_0 and 1 GB for Q4_0, a few minutes each). Progress goes to
 * stderr, the table to stdout. --types takes weight types (every matrix in that type) and llama.cpp's mixes
 * (Q4_K_M: llama-quantize's per-tensor choice, tools/modelgen/tensor-types.ts — mostly Q4_K, with Q6_K and Q5_K/Q8_0 where it
 * gives those tensors more bits).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createGpu } from '../../daemon/gpu/device.js';
import { ensureModel } from '../modelgen/model-cache.js';
import { RECIPES, resolveSpec, WEIGHT_TYPES, type RecipeName, type WeightTypeName } from '../modelgen/model-spec.js';
import { RESULT_PREFIX, type BenchJob, type BenchResult, type Workload } from './bench-common.js';
import { benchPromptTokens, intOption, runBenchChild } from './bench-parent.js';
import { formatBenchTable, type BenchRow } from './bench-table.js';

const ENGINES = {
  'moecode-cpu': { script: join(__dirname, 'bench-ours.ts'), backend: 'cpu' },
  'moecode-gpu': { script: join(__dirname, 'bench-ours.ts'), backend: 'gpu' },
  'llama.cpp': { script: join(__dirname, 'bench-llama.ts'), backend: undefined },
} as const;
type EngineName = keyof typeof ENGINES;
const REFERENCE: EngineName = 'llama.cpp';

const USAGE = `usage: npm run bench -- [--quick] [--types Q8_0,Q4_0,Q4_K_M] [--prompt N] [--decode N] [--soft-prompt N] [--soft-decode N]
                       [--threads N] [--engines moecode-cpu,moecode-gpu,llama.cpp] [--json FILE]`;

type BenchType = WeightTypeName | RecipeName;

interface Options {
  /** Weight types (every matrix in that type) or llama.cpp mixes (recipes). */
  types: BenchType[];
  full: Workload;
  /** The GPU backend's workload on a software adapter. */
  soft: Workload;
  threads: number;
  engines: EngineName[];
  json?: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      types: { type: 'string', default: 'Q8_0,Q4_0' },
      prompt: { type: 'string' },
      decode: { type: 'string' },
      'soft-prompt': { type: 'string' },
      'soft-decode': { type: 'string' },
      threads: { type: 'string', default: '2' },
      engines: { type: 'string', default: Object.keys(ENGINES).join(',') },
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
  const known: readonly string[] = [...WEIGHT_TYPES, ...RECIPES];
  for (const t of types) if (!known.includes(t)) throw new Error(`--types: unknown type ${t} (known: ${known.join(', ')})`);
  const engines = values.engines.split(',').map((s) => s.trim());
  for (const e of engines) if (!(e in ENGINES)) throw new Error(`--engines: unknown engine ${e} (known: ${Object.keys(ENGINES).join(', ')})`);
  return {
    types: types as BenchType[],
    full: { promptTokens: int('prompt', values.prompt, values.quick ? 64 : 512, 1), decodeTokens: int('decode', values.decode, values.quick ? 16 : 128, 1) },
    soft: { promptTokens: int('soft-prompt', values['soft-prompt'], values.quick ? 8 : 32, 1), decodeTokens: int('soft-decode', values['soft-decode'], values.quick ? 2 : 8, 1) },
    threads: int('threads', values.threads, 2, 1),
    engines: engines as EngineName[],
    json: values.json,
  };
}

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

const sameWorkload = (a: Workload, b: Workload) => a.promptTokens === b.promptTokens && a.decodeTokens === b.decodeTokens;

/** Whether our engine gets a software adapter (then it runs the smaller workload); throws without one. */
async function softwareAdapter(): Promise<boolean> {
  const gpu = await createGpu();
  const soft = gpu.info.isFallback;
  gpu.destroy();
  return soft;
}

async function main(): Promise<void> {
  const opts = parseOptions(process.argv.slice(2));
  const t0 = performance.now();
  // what each of our engines runs: the GPU backend a smaller workload on a software adapter
  const workloadOf = new Map<EngineName, Workload | Error>();
  for (const e of opts.engines) {
    if (e === 'moecode-cpu') workloadOf.set(e, opts.full);
    if (e === 'moecode-gpu') {
      try {
        workloadOf.set(e, (await softwareAdapter()) ? opts.soft : opts.full);
      } catch (err) {
        workloadOf.set(e, err as Error);
      }
    }
  }
  const wl = (w: Workload) => `prompt ${w.promptTokens}, decode ${w.decodeTokens}`;
  const llamaRuns = [opts.full];
  for (const w of workloadOf.values()) if (!(w instanceof Error) && !llamaRuns.some((x) => sameWorkload(x, w))) llamaRuns.unshift(w);
  log(`bench: ${opts.types.join(', ')}; engines ${opts.engines.join(', ')}; ${opts.threads} threads`);
  for (const [e, w] of workloadOf) log(`  ${e}: ${w instanceof Error ? w.message : `${wl(w)}${w === opts.soft ? ' (software adapter)' : ''}`}`);
  if (opts.engines.includes(REFERENCE)) log(`  ${REFERENCE}: ${llamaRuns.map(wl).join('; ')}`);
  const longest = Math.max(...[opts.full, ...[...workloadOf.values()].filter((w): w is Workload => !(w instanceof Error))].map((w) => w.promptTokens));
  const dir = mkdtempSync(join(tmpdir(), 'moecode-bench-'));
  const rows: BenchRow[] = [];
  try {
    for (const type of opts.types) {
      const spec = resolveSpec({ arch: 'qwen3moe', preset: 'bench', ...((RECIPES as readonly string[]).includes(type) ? { recipe: type as RecipeName } : { weightType: type as WeightTypeName }) });
      log(`\n${type}: model (generated once, cached; a few minutes the first time) ...`);
      const tg = performance.now();
      const model = await ensureModel(spec);
      log(`${type}: ${model} (${((performance.now() - tg) / 1000).toFixed(1)} s)`);
      const prompt = await benchPromptTokens(model, longest);
      const row: BenchRow = { type, results: {} };
      rows.push(row);
      for (const engine of opts.engines) {
        const ours = workloadOf.get(engine);
        if (ours instanceof Error) {
          row.results[engine] = ours;
          continue;
        }
        const job: BenchJob = { model, prompt, workloads: ours ? [ours] : llamaRuns, threads: opts.threads, backend: ENGINES[engine].backend };
        const jobFile = join(dir, `${type}-${engine}.json`);
        writeFileSync(jobFile, JSON.stringify(job));
        log(`${type}: ${engine} ...`);
        const te = performance.now();
        try {
          row.results[engine] = await runBenchChild<BenchResult>([ENGINES[engine].script, jobFile], RESULT_PREFIX, engine);
        } catch (e) {
          row.results[engine] = e as Error;
          log(`${type}: ${engine} failed: ${(e as Error).message}`);
        }
        log(`${type}: ${engine} done in ${((performance.now() - te) / 1000).toFixed(0)} s`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const cpu = cpus();
  const header = [
    `moecode bench: qwen3moe, vocab 32000, n_embd 2048, 16 layers, 16/4 heads, head dim 128, 8 experts top-2, expert width 2048 (~1.9 B params, ~0.7 B active)`,
    `greedy; ${cpu.length} x ${cpu[0]?.model.trim() ?? 'CPU'}; load average at the end ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')}; total ${((performance.now() - t0) / 60000).toFixed(1)} min`,
  ];
  console.log(`\n${formatBenchTable(header, rows, opts.engines, REFERENCE)}`);
  if (opts.json) {
    const plain = rows.map((r) => ({ type: r.type, results: Object.fromEntries(Object.entries(r.results).map(([k, v]) => [k, v instanceof Error ? { error: v.message } : v])) }));
    writeFileSync(opts.json, `${JSON.stringify({ options: opts, rows: plain }, null, 2)}\n`);
  }
  if (rows.some((r) => Object.values(r.results).some((v) => v instanceof Error))) process.exitCode = 1;
}

main().catch((e: unknown) => {
  console.error(`bench: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
  process.exit(2);
});
