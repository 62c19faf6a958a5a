/**
 * What the benchmark's parent and its per-engine child processes share: the job a child is given, the
 * result it reports (one `BENCH_RESULT {json}` line on stdout; progress goes to stderr), and the
 * process's own peak RSS.
 */
import { readFileSync } from 'node:fs';

/** One measurement: a prompt of `promptTokens` (the first ones of BenchJob.prompt), then greedy decoding. */
export interface Workload {
  promptTokens: number;
  /** Tokens decoded after the first one. */
  decodeTokens: number;
}

export interface BenchJob {
  model: string;
  /** Prompt token ids, the same for every engine; each workload uses a prefix. */
  prompt: number[];
  /** Measured in order, after one load and a warm-up, each from an empty KV cache. */
  workloads: Workload[];
  /** CPU threads for llama.cpp and our CPU backend (our engine on SwiftShader uses all cores). */
  threads: number;
  /** Our engine's backend (bench-ours.ts). */
  backend?: 'cpu' | 'gpu';
}

export interface RunResult extends Workload {
  /** From the start of the prompt's evaluation to the first generated token. */
  ttftMs: number;
  prefillTokPerS: number;
  decodeMs: number;
  decodeTokPerS: number;
}

export interface BenchResult {
  engine: string;
  /** Where it ran, e.g. "SwiftShader (vulkan, software fallback)" or "CPU, 2 threads". */
  device: string;
  loadMs: number;
  runs: RunResult[];
  /** VmHWM of the child process: its own peak resident memory. */
  peakRssBytes: number;
}

export const RESULT_PREFIX = 'BENCH_RESULT ';

export function peakRssBytes(): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : process.memoryUsage().rss;
}

/** The child's job, from the JSON file named by its only argument. */
export function readJob(): BenchJob {
  const file = process.argv[2];
  if (!file) throw new Error('usage: <bench child> <job.json>');
  return JSON.parse(readFileSync(file, 'utf8')) as BenchJob;
}

export function report(r: BenchResult): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(r)}\n`);
}

/** Progress on stderr, prefixed with the engine's name. */
export function progress(engine: string, msg: string): void {
  process.stderr.write(`  [${engine}] ${msg}\n`);
}

export function runResult(w: Workload, ttftMs: number, decodeMs: number): RunResult {
  return {
    ...w,
    ttftMs,
    prefillTokPerS: w.promptTokens / (ttftMs / 1000),
    decodeMs,
    decodeTokPerS: w.decodeTokens / (decodeMs / 1000),
  };
}

/** Runs a child's main and exits: 0 after a result, 1 with the error on stderr. */
export function runChild(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (e: unknown) => {
      console.error(e instanceof Error ? (e.stack ?? e.message) : e);
      process.exit(1);
    },
  );
}
