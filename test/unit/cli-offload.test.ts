/**
 * `--gpu-budget` on the command line, as real child processes on a generated tiny model: `info` prints a
 * placement that differs between budgets (and says when a budget is too small, with the minimum); `run`
 * on the GPU backend ends, after its timing line, with the expert cache's hit rate, prefetch accuracy and
 * bytes uploaded per token; `eval --json` keeps its shape under a budget; a budget below the minimum fails
 * before loading with the minimum in the message; malformed sizes (flag or MOECODE_GPU_BUDGET) are usage
 * errors. GPU runs skip when no WebGPU adapter is available.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { before, test } from 'node:test';
import { createGpu } from '../../daemon/gpu/device.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

const ROOT = resolve(__dirname, '..', '..');

function moecode(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'daemon/cli/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 180_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

let model = '';
let noGpu: string | undefined;
/** The minimum budget and one slot's bytes for `run`'s defaults, from `info --json`. */
let minimum = 0;
let slot = 0;

before(async () => {
  model = await ensureModel({ arch: 'qwen2moe', weightType: 'Q8_0' });
  try {
    (await createGpu()).destroy();
  } catch (e) {
    noGpu = `no WebGPU adapter: ${(e as Error).message}`;
    return;
  }
  const info = await moecode(['info', model, '--json', '--backend', 'gpu']);
  const p = JSON.parse(info.stdout).placement as { minimumBytes: number; slotBytes: number[] };
  minimum = p.minimumBytes;
  slot = p.slotBytes[0]!;
});

test('info: the placement differs between budgets; a budget too small names the minimum', async (t) => {
  if (noGpu) return t.skip(noGpu);
  const small = await moecode(['info', model, '--backend', 'gpu', '--gpu-budget', String(minimum + 2 * slot)]);
  const large = await moecode(['info', model, '--backend', 'gpu', '--gpu-budget', String(minimum + 12 * slot)]);
  assert.equal(small.code, 0, small.stderr);
  assert.match(small.stdout, /placement \(GPU budget .*\):/);
  assert.match(small.stdout, /experts on the GPU: 2 of 16 \(13%\), 1 slot per layer/);
  assert.match(large.stdout, /experts on the GPU: 12 of 16 \(75%\), 6 slots per layer/);
  const expertsRow = (out: string) => out.split('\n').find((l) => /^\s+experts\s+\S+ \S+\s+\S+/.test(l) && l.includes('iB'))!;
  assert.notEqual(expertsRow(small.stdout), expertsRow(large.stdout), 'the experts row (GPU, host, disk) differs');
  const json = JSON.parse((await moecode(['info', model, '--json', '--backend', 'gpu', '--gpu-budget', `${minimum + 2 * slot}B`])).stdout);
  assert.deepEqual(json.placement.slots, [1, 1]);
  // a budget the model cannot run under: info still shows the placement, lists the problem, exits 1
  const tiny = await moecode(['info', model, '--backend', 'gpu', '--gpu-budget', '1MiB']);
  assert.equal(tiny.code, 1);
  assert.match(tiny.stdout, /cannot run: .*\n.*but --gpu-budget is 1 MB/);
  assert.match(tiny.stdout, new RegExp(`placement +a GPU budget of 1\\.0 MiB is too small .* need .*\\(${minimum} bytes\\)`));
});

test('run on the GPU under a budget: the expert line after the timing line (hit rate, prefetch accuracy, bytes per token)', async (t) => {
  if (noGpu) return t.skip(noGpu);
  const r = await moecode(['run', model, '--prompt', 'def f(x):', '--max-tokens', '8', '--backend', 'gpu', '--gpu-budget', String(minimum + 4 * slot)]);
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stderr.trim().split('\n');
  const timing = lines.findIndex((l) => /prefill .* tok\/s/.test(l));
  assert.ok(timing >= 0, r.stderr);
  const last = lines[lines.length - 1]!;
  assert.equal(lines.length - 1, timing + 1, 'the expert line comes right after the timing line, last');
  assert.match(last, /experts: 4 of 16 on the GPU \(25%\)/);
  assert.match(last, /hit \d+%/);
  assert.match(last, /prefetch accuracy (\d+%|-)/);
  assert.match(last, /uploaded [\d.]+ (B|KiB|MiB|GiB)\/token/);
  const all = await moecode(['run', model, '--prompt', 'def f(x):', '--max-tokens', '8', '--backend', 'gpu']);
  assert.equal(all.code, 0, all.stderr);
  assert.match(all.stderr.trim().split('\n').pop()!, /experts: 16 of 16 on the GPU \(100%\); expert cache hit 100%/);
  assert.equal(r.stdout, all.stdout, 'the same greedy text under the budget');
});

test('eval --json keeps its shape under a budget', async (t) => {
  if (noGpu) return t.skip(noGpu);
  const args = ['eval', model, '--tokens', '1,2,3,4,5,6,7,8', '--greedy', '4', '--json', '--backend', 'gpu'];
  const budget = await moecode([...args, '--gpu-budget', String(minimum + 4 * slot)]);
  const all = await moecode(args);
  assert.equal(budget.code, 0, budget.stderr);
  const a = JSON.parse(budget.stdout);
  const b = JSON.parse(all.stdout);
  assert.deepEqual(Object.keys(a), ['logprobs', 'greedy']);
  assert.deepEqual(Object.keys(a), Object.keys(b));
  assert.equal(a.logprobs.length, 8);
  assert.deepEqual(a.greedy, b.greedy);
  const worst = Math.max(...a.logprobs.flatMap((row: number[], i: number) => row.map((v, j) => (b.logprobs[i][j] > -30 ? Math.abs(v - b.logprobs[i][j]) : 0))));
  assert.ok(worst <= 2e-3, `max |Δ log p| ${worst}`);
});

test('a budget below the minimum fails before loading, naming it; malformed sizes are usage errors', async (t) => {
  const bad = await moecode(['run', model, '--prompt', 'x', '--gpu-budget', '12XB', '--backend', 'gpu']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--gpu-budget: unknown unit "XB"/);
  const env = await moecode(['eval', model, '--tokens', '1', '--json', '--backend', 'gpu'], { MOECODE_GPU_BUDGET: 'lots' });
  assert.equal(env.code, 2);
  assert.match(env.stderr, /MOECODE_GPU_BUDGET: "lots" is not a size/);
  if (noGpu) return t.skip(noGpu);
  const small = await moecode(['run', model, '--prompt', 'x', '--gpu-budget', '1MiB', '--backend', 'gpu']);
  assert.equal(small.code, 1);
  // the fit check refuses it before anything is allocated, saying what it needs
  assert.match(small.stderr, /needs about \d+ MB .* but --gpu-budget is 1 MB: .*raise --gpu-budget by at least \d+ MB/);
  const viaEnv = await moecode(['run', model, '--prompt', 'x', '--backend', 'gpu'], { MOECODE_GPU_BUDGET: '1MiB' });
  assert.equal(viaEnv.code, 1);
  assert.match(viaEnv.stderr, /but MOECODE_GPU_BUDGET is 1 MB: .*raise MOECODE_GPU_BUDGET by at least \d+ MB/);
});
