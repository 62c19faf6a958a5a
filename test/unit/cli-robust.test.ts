/**
 * The `moecode` command line as a real child process, on the inputs that used to go wrong: a FIFO as the
 * model (it blocked forever on open), a model whose name holds ANSI escapes (they reached the terminal),
 * /etc/passwd as a model (its first bytes were echoed), `eval --json` read through a pipe (cut at ~200 KB
 * when the process exited before stdout drained), and Dawn's Vulkan-loader noise on every call.
 * With dist/cli.js built, the pipe case also runs through bin/moecode.js.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { defaultModelPath } from '../../daemon/cli/default-model.js';
import { modelUnavailable } from '../lsp/daemon-harness.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

const ROOT = resolve(__dirname, '..', '..');
const CLI_TIMEOUT_MS = 120_000;
/** As the user's environment had it: device.ts sets VK_ICD_FILENAMES in this process once it falls back to SwiftShader. */
const USER_VK_ICD_FILENAMES = process.env.VK_ICD_FILENAMES;
const ANSI_NAME = 'Evil\u001b[31mRED\u001b[0m\u001b]0;pwned\u0007';

let dir = '';
let ansiModel = '';
let noModel: string | undefined;

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs the CLI with stdout and stderr on pipes, reading stdout slowly (a pause after every chunk), as a
 * consumer busy with each piece would: what the process does not flush before it exits is lost.
 */
function moecode(args: string[], opts: { viaBin?: boolean; slowReader?: boolean } = {}): Promise<Run> {
  const entry = opts.viaBin ? [join('bin', 'moecode.js')] : ['--import', 'tsx', join('daemon', 'cli', 'main.ts')];
  const t0 = performance.now();
  const child = spawn(process.execPath, [...entry, ...args], { cwd: ROOT, env: { ...process.env, MOECODE_MODEL: '', VK_ICD_FILENAMES: USER_VK_ICD_FILENAMES }, stdio: ['ignore', 'pipe', 'pipe'] });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => {
    out.push(b);
    if (opts.slowReader) {
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 5);
    }
  });
  child.stderr.on('data', (b: Buffer) => err.push(b));
  const timer = setTimeout(() => child.kill('SIGKILL'), CLI_TIMEOUT_MS);
  return new Promise((resolveRun) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolveRun({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - t0 });
    });
  });
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moecode-cli-robust-'));
  ansiModel = await ensureModel({ arch: 'llama', preset: 'tiny', weightType: 'F32', name: ANSI_NAME });
  noModel = await modelUnavailable();
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('a FIFO as the model: info, run and eval fail at once naming it, instead of blocking', async (t) => {
  const fifo = join(dir, 'model.gguf');
  try {
    execFileSync('mkfifo', [fifo]);
  } catch (e) {
    return t.skip(`mkfifo failed: ${(e as Error).message}`);
  }
  for (const args of [['info', fifo], ['run', fifo, '--prompt', 'x'], ['eval', fifo, '--tokens', '1', '--json']]) {
    const r = await moecode(args);
    assert.equal(r.signal, null, `moecode ${args.join(' ')} hung (killed after ${CLI_TIMEOUT_MS} ms)`);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /^moecode: '.*model\.gguf' is a named pipe \(FIFO\), not a regular file$/m);
    assert.equal(r.stdout, '');
  }
});

test('info on a model named with ANSI escapes prints them escaped, in text and in JSON', async () => {
  const text = await moecode(['info', ansiModel]);
  assert.equal(text.code, 0, text.stderr);
  assert.doesNotMatch(text.stdout, /[\u001b\u0007]/, 'no raw escape or bell reaches the terminal');
  assert.match(text.stdout, /^Evil\\x1b\[31mRED\\x1b\[0m\\x1b\]0;pwned\\x07 {2}\(/m);
  const json = await moecode(['info', ansiModel, '--json']);
  assert.equal(json.code, 0, json.stderr);
  assert.doesNotMatch(json.stdout, /[\u001b\u0007]/);
  assert.equal(JSON.parse(json.stdout).config.name, ANSI_NAME, 'the JSON still carries the exact name');
});

test('info on /etc/passwd: "not a GGUF file", without echoing the file', async (t) => {
  if (!existsSync('/etc/passwd')) return t.skip('no /etc/passwd on this system');
  const r = await moecode(['info', '/etc/passwd']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^moecode: passwd: not a GGUF file/m);
  assert.doesNotMatch(r.stderr, /root|72 6f 6f 74/);
});

test('info prints no Vulkan-loader noise on stderr', async () => {
  const r = await moecode(['info', ansiModel]);
  assert.equal(r.code, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /vkCreateInstance|VK_ERROR|Found no drivers|third_party\/dawn/);
});

/** Token ids 1..n of the shipped model (vocabulary 4096): every position prints 4096 log-probabilities. */
function evalArgs(model: string, n: number): string[] {
  return ['eval', model, '--tokens', Array.from({ length: n }, (_, i) => String(1 + i)).join(','), '--greedy', '2', '--json'];
}

for (const viaBin of [false, true]) {
  test(`eval --json through a pipe delivers all of a > 1 MB answer${viaBin ? ' (bin/moecode.js, the bundle)' : ''}`, async (t) => {
    if (noModel) return t.skip(noModel);
    if (viaBin && !existsSync(join(ROOT, 'dist', 'cli.js'))) return t.skip('dist/cli.js is not built (npm run build)');
    const model = defaultModelPath() ?? (await ensureModel({ arch: 'llama', preset: 'tiny', weightType: 'F32' }));
    const nTokens = model === defaultModelPath() ? 32 : 220;
    const r = await moecode(evalArgs(model, nTokens), { viaBin, slowReader: true });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.length > 1024 * 1024, `only ${r.stdout.length} bytes arrived`);
    assert.ok(r.stdout.endsWith('}\n'), `the output ends with ${JSON.stringify(r.stdout.slice(-20))}`);
    const parsed = JSON.parse(r.stdout) as { logprobs: number[][]; greedy: number[] };
    assert.equal(parsed.logprobs.length, nTokens);
    assert.equal(parsed.greedy.length, 2);
  });
}
