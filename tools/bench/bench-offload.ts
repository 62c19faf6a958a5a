/**
 * `npm run bench:offload`: the GPU backend with its experts placed across GPU and host, on the generated
 * bench model (qwen3moe, ~1.9 B parameters, 16 layers × 8 experts of width 2048, top-2; see
 * bench-engine.ts), at GPU budgets that hold the non-expert part plus 100%, 50% and 25% of the expert
 * bytes, and with every expert on the CPU (llama.cpp's --cpu-moe layout). For each: prefill and decode
 * tok/s, the expert cache's hit rate, the prefetch accuracy and the expert bytes uploaded per token (over
 * the measured phases, after a warm-up), then the 25% budget's decode speed as a share of the resident
 * model's (target ≥ 50%). llama.cpp runs the same file and workload on the CPU in the same run, and every
 * row prints its ratio to it.
 *
 *   node --import tsx tools/bench/bench-offload.ts [--type Q4_0|Q8_0] [--prompt N] [--decode N] [--threads N]
 *        [--shares 1,0.5,0.25,0] [--json FILE]
 *
 * Each configuration runs in its own child process. On a software adapter (SwiftShader) GPU memory is
 * host memory and the "GPU" computes on the same cores as the CPU expert service: the figures test the
 * mechanism (placement, caching, prefetch, CPU experts), not what a real GPU would gain; the default
 * workload is small (prompt 32, decode 8) because SwiftShader takes seconds per token on this model.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Model } from '../../daemon/engine/model.js';
import { Session } from '../../daemon/engine/session.js';
import type { SamplingParams } from '../../daemon/model/backend.js';
import { formatBytes } from '../../daemon/model/byte-size.js';
import { emptyOffloadReport, hitRate, offloadReportDelta, prefetchAccuracy, uploadedBytesPerToken, type OffloadReport } from '../../daemon/model/offload-stats.js';
import { ensureModel } from '../modelgen/model-cache.js';
import { resolveSpec, type WeightTypeName } from '../modelgen/model-spec.js';
import { RESULT_PREFIX, type BenchJob, type BenchResult, type RunResult } from './bench-common.js';
import { benchPromptTokens, intOption, runBenchChild } from './bench-parent.js';

const GREEDY: SamplingParams = { temperature: 0, topK: 1, topP: 1, seed: 0 };
const RESULT = 'OFFLOAD_RESULT ';

interface Job {
  model: string;
  prompt: number[];
  decode: number;
  threads: number;
  /** Share of the expert bytes the GPU budget holds (1: every expert resident). */
  share: number;
}

interface PhaseResult {
  tokens: number;
  ms: number;
  tokPerS: number;
  report: OffloadReport;
}

interface Result {
  share: number;
  device: string;
  loadMs: number;
  gpuBytes: number;
  expertsOnGpu: number;
  expertsTotal: number;
  prefill: PhaseResult;
  decode: PhaseResult;
  /** Greedy tokens, to check every budget generates the same text. */
  tokens: number[];
}

// --- child: one configuration ------------------------------------------------------------------------

function log(msg: string): void {
  process.stderr.write(`${msg}\n`);
}

async function child(jobFile: string): Promise<void> {
  const job = JSON.parse(readFileSync(jobFile, 'utf8')) as Job;
  const name = job.share === 1 ? 'resident' : `${Math.round(job.share * 100)}% of experts`;
  const t0 = performance.now();
  const model = await Model.load(job.model, {
    backend: 'gpu',
    nCtx: job.prompt.length + job.decode + 32,
    threads: job.threads,
    expertShare: job.share === 1 ? undefined : job.share,
    memoryBudget: job.share === 1 ? Number.MAX_SAFE_INTEGER : undefined,
  });
  const loadMs = performance.now() - t0;
  log(`  [${name}] loaded in ${(loadMs / 1000).toFixed(1)} s on ${model.backendInfo.description}`);
  const cfg = model.cfg;
  const total = cfg.n_expert * cfg.n_layer;
  const report = (): OffloadReport => model.offload ?? { ...emptyOffloadReport(total, total) };
  try {
    const session = new Session(model, 0);
    // warm-up: pipelines, the CPU expert service, the host expert cache (the prompt routes to nearly every
    // expert) and the routing statistics, so the measured phases show the steady state
    const w = await session.prefill(job.prompt, GREEDY);
    let t = w.token;
    for (let i = 0; i < 2; i++) t = await session.decode(t, GREEDY);
    session.reset();
    const r0 = report();
    const tp = performance.now();
    let { token } = await session.prefill(job.prompt, GREEDY);
    const prefillMs = performance.now() - tp;
    const r1 = report();
    log(`  [${name}] prefill ${(job.prompt.length / (prefillMs / 1000)).toFixed(2)} tok/s; decoding ${job.decode} tokens`);
    const tokens = [token];
    const td = performance.now();
    for (let i = 0; i < job.decode; i++) tokens.push((token = await session.decode(token, GREEDY)));
    const decodeMs = performance.now() - td;
    const r2 = report();
    const phase = (n: number, ms: number, a: OffloadReport, b: OffloadReport, residentTokens: number): PhaseResult => {
      const d = model.offload ? offloadReportDelta(b, a) : { ...emptyOffloadReport(total, total), tokens: residentTokens, choices: residentTokens * cfg.n_expert_used * cfg.n_layer, hits: residentTokens * cfg.n_expert_used * cfg.n_layer };
      return { tokens: n, ms, tokPerS: n / (ms / 1000), report: d };
    };
    const result: Result = {
      share: job.share,
      device: model.backendInfo.description,
      loadMs,
      gpuBytes: model.memory.total,
      expertsOnGpu: r2.expertsOnGpu,
      expertsTotal: r2.expertsTotal,
      prefill: phase(job.prompt.length, prefillMs, r0, r1, job.prompt.length),
      decode: phase(job.decode, decodeMs, r1, r2, job.decode),
      tokens,
    };
    process.stdout.write(`${RESULT}${JSON.stringify(result)}\n`);
  } finally {
    await model.dispose();
  }
}

// --- parent -----------------------------------------------------------------------------------------

function pad(cells: string[][]): string {
  const w = cells[0]!.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ')).join('\n');
}

async function parent(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      type: { type: 'string', default: 'Q4_0' },
      prompt: { type: 'string', default: '32' },
      decode: { type: 'string', default: '8' },
      threads: { type: 'string', default: '2' },
      shares: { type: 'string', default: '1,0.5,0.25,0' },
      json: { type: 'string' },
    },
    strict: true,
  });
  const int = (k: string, v: string) => intOption(k, v, 0, 1);
  const shares = values.shares.split(',').map(Number);
  if (shares.some((s) => !(s >= 0 && s <= 1))) throw new Error(`--shares: values between 0 and 1, got ${values.shares}`);
  const spec = resolveSpec({ arch: 'qwen3moe', preset: 'bench', weightType: values.type as WeightTypeName });
  const t0 = performance.now();
  log(`bench:offload: the bench model in ${spec.weightType} (generated once and cached; a few minutes the first time) ...`);
  const model = await ensureModel(spec);
  const prompt = await benchPromptTokens(model, int('prompt', values.prompt));
  const dir = mkdtempSync(join(tmpdir(), 'moecode-bench-offload-'));
  const results: Result[] = [];
  let llama: RunResult | undefined;
  let llamaError: string | undefined;
  try {
    for (const share of shares) {
      const job: Job = { model, prompt, decode: int('decode', values.decode), threads: int('threads', values.threads), share };
      const file = join(dir, `job-${share}.json`);
      writeFileSync(file, JSON.stringify(job));
      log(`\n${share === 1 ? 'every expert on the GPU' : share === 0 ? 'every expert on the CPU (--cpu-moe layout)' : `GPU budget: the non-expert part + ${share * 100}% of the experts`} ...`);
      results.push(await runBenchChild<Result>([__filename, '--child', file], RESULT, 'the child'));
    }
    // llama.cpp on the same GGUF and workload, on the CPU: the yardstick for every row
    const decode = int('decode', values.decode);
    const llamaJob: BenchJob = { model, prompt, workloads: [{ promptTokens: prompt.length, decodeTokens: decode }], threads: int('threads', values.threads) };
    const llamaFile = join(dir, 'job-llama.json');
    writeFileSync(llamaFile, JSON.stringify(llamaJob));
    log('\nllama.cpp (CPU) on the same file ...');
    try {
      llama = (await runBenchChild<BenchResult>([join(__dirname, 'bench-llama.ts'), llamaFile], RESULT_PREFIX, 'llama.cpp')).runs[0];
    } catch (e) {
      llamaError = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      log(`llama.cpp failed: ${llamaError}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const resident = results.find((r) => r.share === 1);
  const vsLlama = (ours: number, theirs: number | undefined) => (theirs ? `${(ours / theirs).toFixed(3)}x` : '-');
  const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(0)}%`);
  const header = ['experts on the GPU', 'GPU memory', 'prefill tok/s', 'decode tok/s', 'x llama.cpp (prefill / decode)', 'hit (decode)', 'prefetch acc.', 'uploaded/token (decode)', 'uploaded/token (prefill)', 'decode vs resident', 'same tokens'];
  const rows = [
    header,
    ...results.map((r) => [
      `${r.share === 0 ? 'none (--cpu-moe layout)' : `${(r.share * 100).toFixed(0)}% budget`}: ${r.expertsOnGpu}/${r.expertsTotal}`,
      formatBytes(r.gpuBytes),
      r.prefill.tokPerS.toFixed(2),
      r.decode.tokPerS.toFixed(2),
      `${vsLlama(r.prefill.tokPerS, llama?.prefillTokPerS)} / ${vsLlama(r.decode.tokPerS, llama?.decodeTokPerS)}`,
      pct(hitRate(r.decode.report)),
      pct(prefetchAccuracy(offloadSum(r.prefill.report, r.decode.report))),
      formatBytes(uploadedBytesPerToken(r.decode.report)),
      formatBytes(uploadedBytesPerToken(r.prefill.report)),
      resident ? pct(r.decode.tokPerS / resident.decode.tokPerS) : '-',
      resident ? (r.tokens.join(',') === resident.tokens.join(',') ? 'yes' : 'NO') : '-',
    ]),
    [
      `llama.cpp, CPU ${values.threads} threads${llama ? '' : `: ${llamaError ?? 'not run'}`}`,
      '-',
      llama ? llama.prefillTokPerS.toFixed(2) : '-',
      llama ? llama.decodeTokPerS.toFixed(2) : '-',
      llama ? '1.000x / 1.000x' : '-',
    ],
  ];
  for (const r of rows) while (r.length < header.length) r.push('-');
  const device = results[0]?.device ?? '?';
  const soft = /software|swiftshader|lavapipe|llvmpipe/i.test(device);
  const lines = [
    `moecode bench:offload: qwen3moe bench model ${spec.weightType} (16 layers x 8 experts of width 2048, top-2, ~1.9 B params); prompt ${prompt.length}, decode ${values.decode}; CPU expert service ${values.threads} threads`,
    `device: ${device}; ${cpus().length} x ${cpus()[0]?.model.trim() ?? 'CPU'}; load average ${loadavg().map((x) => x.toFixed(1)).join(' ')}; total ${((performance.now() - t0) / 60000).toFixed(1)} min`,
    ...(soft
      ? ['NOTE: a software adapter: GPU memory is host memory and the "GPU" runs on the same CPU cores as the CPU expert service, so these figures test the mechanism, not the speed-up a real GPU would see.']
      : []),
    '',
    pad(rows),
  ];
  const q = results.find((r) => r.share === 0.25);
  if (q && resident) {
    const ratio = q.decode.tokPerS / resident.decode.tokPerS;
    lines.push('', `25% of experts on the GPU: decode at ${(ratio * 100).toFixed(0)}% of the fully resident speed (target >= 50%: ${ratio >= 0.5 ? 'met' : 'NOT met'})`);
  }
  console.log(`\n${lines.join('\n')}`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify({ spec: spec.name, type: spec.weightType, results }, null, 2)}\n`);
}

/** Counters of two phases together. */
function offloadSum(a: OffloadReport, b: OffloadReport): OffloadReport {
  const out = { ...a };
  for (const k of Object.keys(a) as (keyof OffloadReport)[]) if (k !== 'expertsOnGpu' && k !== 'expertsTotal') out[k] = a[k] + b[k];
  return out;
}

const argv = process.argv.slice(2);
const main = argv[0] === '--child' ? child(argv[1]!) : parent(argv);
main.catch((e: unknown) => {
  console.error(`bench:offload: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
  process.exit(argv[0] === '--child' ? 1 : 2);
});
