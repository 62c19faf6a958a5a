/**
 * Bad input through the `moecode` command line, run as a real child process
 * (`node --import tsx daemon/cli/main.ts ...`): each case must exit promptly with the documented code
 * (2: usage, 1: the model or the input is bad), one `moecode: <what is wrong>` line on stderr, no
 * JavaScript stack trace and nothing on stdout.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { modelUnavailable } from '../helpers/backend-available.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

const ROOT = resolve(__dirname, '..', '..');
const CLI_TIMEOUT_MS = 90_000;

let dir = '';
let model = '';
let modelQ4 = '';
let noModel: string | undefined;

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

function moecode(...args: string[]): CliResult {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'daemon/cli/main.ts', ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: CLI_TIMEOUT_MS,
    env: { ...process.env, MOECODE_MODEL: '' },
  });
  assert.equal(r.signal, null, `moecode ${args.join(' ')} was killed (${r.signal}): it hung\n${r.stderr}`);
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

/** Exit code `code`, a `moecode: ...` line matching `message`, no stack trace, no output. */
function assertFails(r: CliResult, code: number, message: RegExp): void {
  const said = r.stderr
    .split('\n')
    .filter((l) => l.startsWith('moecode: '))
    .join('\n');
  assert.equal(r.code, code, `exit code (stderr: ${r.stderr})`);
  assert.match(said, message, `stderr: ${r.stderr}`);
  assert.doesNotMatch(r.stderr, /^\s+at .+\.(ts|js|mjs|cjs):\d+/m, 'no JavaScript stack trace');
  assert.equal(r.stdout, '', 'nothing on stdout');
}

/**
 * `moecode info` on a GGUF that parses but cannot run: its report (every problem) on stdout, exit code 1,
 * a `moecode: N problems keep this model from running: …` line naming the first, no stack trace.
 */
function assertInfoRefuses(r: CliResult, message: RegExp): void {
  assert.equal(r.code, 1, `exit code (stderr: ${r.stderr})`);
  assert.match(r.stderr, /^moecode: \d+ problems? keeps? this model from running: /m);
  assert.match(r.stderr, message);
  assert.match(r.stdout, message, 'the report on stdout lists the problem');
  assert.doesNotMatch(r.stderr, /^\s+at .+\.(ts|js|mjs|cjs):\d+/m, 'no JavaScript stack trace');
}

function writeBad(name: string, data: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

function afterString(b: Buffer, s: string): number {
  const needle = Buffer.alloc(8 + s.length);
  needle.writeBigUInt64LE(BigInt(s.length));
  needle.write(s, 8);
  const at = b.indexOf(needle);
  assert.ok(at >= 0, `'${s}' not found`);
  return at + needle.length;
}

function needModel(t: TestContext): boolean {
  if (noModel) t.skip(noModel);
  return !noModel;
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'moecode-cli-bad-'));
  model = await ensureModel({ arch: 'qwen3moe', preset: 'tiny', weightType: 'Q8_0' });
  modelQ4 = await ensureModel({ arch: 'qwen3moe', preset: 'tiny', weightType: 'Q4_0' });
  noModel = await modelUnavailable();
  if (noModel) console.log(`# model tests skipped: ${noModel}`);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('no command prints the usage and exits 2; an unknown command is named', () => {
  const none = moecode();
  assert.equal(none.code, 2);
  assert.match(none.stdout, /usage:\n\s+moecode info/);
  assertFails(moecode('frobnicate', model), 2, /unknown command "frobnicate"/);
  const help = moecode('--help');
  assert.equal(help.code, 0);
  assert.match(help.stdout, /moecode eval <model\.gguf> --tokens/);
});

test('a missing model file is a usage error naming the path', () => {
  const missing = join(dir, 'missing.gguf');
  for (const args of [['info'], ['run', '--prompt', 'x'], ['eval', '--tokens', '1']]) {
    assertFails(moecode(args[0]!, missing, ...args.slice(1)), 2, /model file not found: .*missing\.gguf/);
  }
});

test('not a GGUF, truncated files, unknown architecture and unsupported types name the problem', () => {
  const good = readFileSync(model);
  const text = writeBad('text.gguf', '#!/bin/sh\necho not a model\n');
  assertFails(moecode('info', text), 1, /not a GGUF file/);
  assertFails(moecode('run', text, '--prompt', 'hi'), 1, /not a GGUF file/);
  assertFails(moecode('eval', writeBad('empty.gguf', ''), '--tokens', '1,2', '--json'), 1, /too small to be a GGUF file/);

  assertFails(moecode('info', writeBad('head.gguf', good.subarray(0, 200))), 1, /truncated/);
  assertFails(moecode('run', writeBad('data.gguf', good.subarray(0, good.length - 64)), '--prompt', 'hi'), 1, /file truncated: tensor '[\w.]+'.*past the end/);

  const arch = Buffer.from(good);
  arch.write('qwen9moe', afterString(arch, 'general.architecture') + 12);
  assertInfoRefuses(moecode('info', writeBad('arch.gguf', arch)), /architecture 'qwen9moe' is not supported/);
  assertFails(moecode('run', join(dir, 'arch.gguf'), '--prompt', 'hi'), 1, /architecture 'qwen9moe' is not supported/);

  const q4 = Buffer.from(readFileSync(modelQ4));
  // I32 has F32's size (the router is F32): the file stays consistent, only the type is one no backend runs
  const at = afterString(q4, 'blk.0.ffn_gate_inp.weight');
  q4.writeUInt32LE(GgmlType.I32, at + 4 + 8 * q4.readUInt32LE(at));
  assertFails(moecode('run', writeBad('i32.gguf', q4), '--prompt', 'hi'), 1, /'blk\.0\.ffn_gate_inp\.weight' has type I32/);
  const json = moecode('info', join(dir, 'i32.gguf'), '--json');
  assertInfoRefuses(json, /has type I32/);
  const report = JSON.parse(json.stdout) as { runnable: boolean; problems: { kind: string; message: string }[] };
  assert.equal(report.runnable, false);
  assert.ok(report.problems.some((p) => p.kind === 'tensor-type' && /'blk\.0\.ffn_gate_inp\.weight' has type I32/.test(p.message)), JSON.stringify(report.problems));
});

test('bad flag values are usage errors naming the flag', () => {
  const cases: [string[], RegExp][] = [
    [['run', model], /run needs --prompt TEXT/],
    [['run', model, '--prompt'], /--prompt needs a value/],
    [['run', model, '--prompt', 'x', '--max-tokens', '0'], /--max-tokens: invalid value 0/],
    [['run', model, '--prompt', 'x', '--max-tokens', 'ten'], /--max-tokens: invalid value ten/],
    [['run', model, '--prompt', 'x', '--max-tokens', '2.5'], /--max-tokens: invalid value 2\.5/],
    [['run', model, '--prompt', 'x', '--temperature', '-1'], /--temperature: invalid value -1/],
    [['run', model, '--prompt', 'x', '--top-p', '1.5'], /--top-p: invalid value 1\.5/],
    [['run', model, '--prompt', 'x', '--top-k', '-3'], /--top-k: invalid value -3/],
    [['run', model, '--prompt', 'x', '--seed', 'abc'], /--seed: invalid value abc/],
    [['run', model, '--prompt', 'x', '--max-tokens'], /--max-tokens needs a value/],
    [['eval', model, '--json'], /eval needs --tokens/],
    [['eval', model, '--tokens', '1,x,3', '--json'], /--tokens: "x" is not a token id/],
    [['eval', model, '--tokens', '1,-3', '--json'], /--tokens: "-3" is not a token id/],
    [['eval', model, '--tokens', '1,2', '--greedy', '-1', '--json'], /--greedy: invalid value -1/],
  ];
  for (const [args, message] of cases) {
    const r = moecode(...args);
    assert.equal(r.code, 2, `moecode ${args.slice(2).join(' ')} exits 2`);
    assertFails(r, 2, message);
    assert.match(r.stderr, /usage:/, 'a usage error prints the usage');
    assert.ok(r.ms < 30_000, `${args.join(' ')} took ${r.ms.toFixed(0)} ms: flags are checked before the model loads`);
  }
});

test('an unknown flag is refused, not ignored', () => {
  assertFails(moecode('run', model, '--prompt', 'x', '--max-token', '3'), 2, /unknown flag --max-token\b/);
  assertFails(moecode('info', model, '--prompt', 'x'), 2, /unknown flag --prompt\b/);
  assertFails(moecode('eval', model, '--tokens', '1', '--chat', '--json'), 2, /unknown flag --chat\b/);
});

test('an empty entry in --tokens is refused, not read as token 0', () => {
  assertFails(moecode('eval', model, '--tokens', '1,,3', '--json'), 2, /--tokens: "" is not a token id/);
  assertFails(moecode('eval', model, '--tokens', '1,2,', '--json'), 2, /--tokens: "" is not a token id/);
});

test('an empty prompt is refused with a clear message', (t) => {
  if (!needModel(t)) return;
  const r = moecode('run', model, '--prompt', '', '--max-tokens', '2');
  assert.ok(r.code === 1 || r.code === 2, `exit code ${r.code}`);
  assertFails(r, r.code!, /empty prompt/);
});

test('a prompt longer than the context is refused with the token counts', (t) => {
  if (!needModel(t)) return;
  const long = 'for i in range(10): print(i, end=" ")\n'.repeat(60);
  assertFails(moecode('run', model, '--prompt', long, '--max-tokens', '4'), 2, /the prompt has \d{3,} tokens; the context holds 512/);
});

test('eval with token ids outside the vocabulary or beyond the context names the problem', (t) => {
  if (!needModel(t)) return;
  assertFails(moecode('eval', model, '--tokens', '1,2,512', '--json'), 1, /token id 512 is outside the vocabulary \(0\.\.511\)/);
  const ids = Array.from({ length: 520 }, (_, i) => i % 500).join(',');
  assertFails(moecode('eval', model, '--tokens', ids, '--json'), 1, /520 tokens exceed the context length of 512/);
});
