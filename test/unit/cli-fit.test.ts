/**
 * The fit check through the built command line (`npm run build`, then `node bin/moecode.js`): `info`,
 * `run`, `eval` and `serve` plan the KV bomb (test/helpers/kv-bomb.ts) down under the memory budget or
 * refuse it before anything is allocated, saying what to lower; the engine flags --ctx, --kv-type and
 * --gpu-budget take effect and bad values are usage errors. Each process's own peak RSS
 * (process.resourceUsage().maxRSS, printed at exit by a preloaded script) shows nothing was allocated.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { ensureKvBomb, KV_BOMB_BYTES_PER_TOKEN } from '../helpers/kv-bomb.js';
import { webgpuUnavailable } from '../lsp/daemon-harness.js';

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'moecode.js');
const NOT_BUILT = `${join(ROOT, 'dist', 'cli.js')} is missing: run npm run build first`;
const MiB = 1024 * 1024;
/** Node, V8, the CLI bundle, workers and Dawn, besides a model's memory. */
const PROCESS_OVERHEAD = 800 * MiB;

let dir = '';
let bomb = '';
let model = '';
let rssProbe = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moecode-cli-fit-'));
  bomb = await ensureKvBomb();
  model = await ensureModel({ arch: 'llama', preset: 'tiny', weightType: 'F32' });
  rssProbe = join(dir, 'rss-probe.js');
  writeFileSync(rssProbe, "process.on('exit', () => require('fs').writeSync(2, `\\npeak-rss-bytes=${process.resourceUsage().maxRSS * 1024}\\n`));\n");
});

after(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  peakRss: number;
  ms: number;
}

function moecode(...args: string[]): Run {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--require', rssProbe, BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 180_000, env: { ...process.env, MOECODE_MODEL: '' } });
  assert.equal(r.signal, null, `moecode ${args.join(' ')} was killed (${r.signal})\n${r.stderr}`);
  const peak = /peak-rss-bytes=(\d+)/.exec(r.stderr);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, peakRss: peak ? Number(peak[1]) : NaN, ms: performance.now() - t0 };
}

function said(r: Run): string {
  return r.stderr
    .split('\n')
    .filter((l) => l.startsWith('moecode: '))
    .join('\n');
}

test('info plans the KV bomb under the automatic budget and lists a context it cannot hold as a problem, with the context that fits', (t) => {
  if (!existsSync(BIN) || !existsSync(join(ROOT, 'dist', 'cli.js'))) return t.skip(NOT_BUILT);
  const ok = moecode('info', bomb, '--backend', 'cpu', '--json');
  assert.equal(ok.code, 0, ok.stderr);
  const plan = JSON.parse(ok.stdout).plan as { nSlots: number; nCtx: number; kvBytes: number; totalBytes: number; budget: { bytes: number; explicit: boolean } };
  assert.equal(plan.budget.explicit, false);
  assert.ok(plan.totalBytes <= plan.budget.bytes);
  assert.equal(plan.kvBytes, plan.nSlots * plan.nCtx * KV_BOMB_BYTES_PER_TOKEN);
  assert.ok(plan.nSlots * plan.nCtx < 4 * 4096, `${plan.nSlots} × ${plan.nCtx}`);

  const refused = moecode('info', bomb, '--backend', 'cpu', '--ctx', '32768', '--json');
  assert.equal(refused.code, 1);
  const report = JSON.parse(refused.stdout) as { runnable: boolean; problems: { kind: string; message: string; fit?: { maxContext: number } }[] };
  assert.equal(report.runnable, false);
  const fit = report.problems.find((p) => p.kind === 'fit');
  assert.ok(fit?.fit && fit.fit.maxContext > 0 && fit.fit.maxContext < 32768, JSON.stringify(report.problems));
  assert.match(said(refused), new RegExp(`1 problem keeps this model from running: .*lower the context to at most ${fit.fit.maxContext} tokens`));
  // the advice works: that context is planned
  const advised = moecode('info', bomb, '--backend', 'cpu', '--ctx', String(fit.fit.maxContext), '--json');
  assert.equal(advised.code, 0, advised.stderr);
  assert.equal(JSON.parse(advised.stdout).plan.nCtx, fit.fit.maxContext);
});

test('run, eval and serve refuse a context the KV bomb cannot hold at once, before allocating it', (t) => {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) return t.skip(NOT_BUILT);
  const runs: [string, Run][] = [
    ['run', moecode('run', bomb, '--prompt', 'hi', '--ctx', '32768')],
    ['eval', moecode('eval', bomb, '--tokens', '1,2', '--json', '--ctx', '32768')],
    ['serve', moecode('serve', bomb, '--port', '0', '--ctx', '32768')],
  ];
  for (const [what, r] of runs) {
    assert.equal(r.code, 1, `${what}: ${r.stderr}`);
    assert.match(r.stderr, /lower the context to at most \d+ tokens per slot/, what);
    assert.ok(r.peakRss < 400 * MiB, `${what}: peak RSS ${Math.round(r.peakRss / MiB)} MB: something was allocated`);
    assert.ok(r.ms < 60_000, `${what} took ${Math.round(r.ms)} ms to refuse`);
  }
});

test('run plans the KV bomb down under --gpu-budget and stays within it (on the WebGPU backend, whose KV buffers are zeroed on first use, too)', async (t) => {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) return t.skip(NOT_BUILT);
  const noGpu = await webgpuUnavailable();
  for (const backend of noGpu ? ['cpu'] : ['cpu', 'gpu']) {
    const r = moecode('run', bomb, '--prompt', 'hi', '--max-tokens', '1', '--gpu-budget', '300MiB', '--backend', backend);
    assert.equal(r.code, 0, `${backend}: ${r.stderr}`);
    t.diagnostic(`${backend}: peak RSS ${Math.round(r.peakRss / MiB)} MB under a 300 MB budget`);
    assert.ok(r.peakRss < 300 * MiB + PROCESS_OVERHEAD, `${backend}: peak RSS ${Math.round(r.peakRss / MiB)} MB`);
  }
  if (noGpu) t.diagnostic(`the WebGPU run was left out: ${noGpu}`);
  const tiny = moecode('run', bomb, '--prompt', 'hi', '--max-tokens', '1', '--gpu-budget', '20MiB', '--backend', 'cpu');
  assert.equal(tiny.code, 1);
  assert.match(said(tiny), /needs about \d+ MB .* but --gpu-budget is 20 MB: .*raise --gpu-budget by at least \d+ MB/);
});

test('--kv-type and --ctx take effect; bad values are usage errors naming the flag', (t) => {
  if (!existsSync(join(ROOT, 'dist', 'cli.js'))) return t.skip(NOT_BUILT);
  const f16 = JSON.parse(moecode('info', model, '--ctx', '128', '--json').stdout).plan;
  const f32 = JSON.parse(moecode('info', model, '--ctx', '128', '--kv-type', 'f32', '--json').stdout).plan;
  assert.deepEqual([f16.nCtx, f16.kvType, f32.nCtx, f32.kvType], [128, 'f16', 128, 'f32']);
  assert.equal(f32.kvBytes, 2 * f16.kvBytes);
  const run = moecode('run', model, '--prompt', 'hello', '--max-tokens', '3', '--ctx', '64', '--kv-type', 'f32');
  assert.equal(run.code, 0, run.stderr);
  const long = moecode('run', model, '--prompt', 'hello '.repeat(80), '--ctx', '64');
  assert.equal(long.code, 2);
  assert.match(said(long), /the context holds 64/);
  for (const [args, message] of [
    [['--kv-type', 'f8'], /--kv-type: invalid value f8 \(f16 or f32\)/],
    [['--ctx', '-1'], /--ctx: invalid value -1/],
    [['--ctx', '1.5'], /--ctx: invalid value 1\.5/],
    [['--gpu-budget', 'lots'], /--gpu-budget/],
  ] as const) {
    const r = moecode('info', model, ...args);
    assert.equal(r.code, 2, r.stderr);
    assert.match(said(r), message);
  }
});
