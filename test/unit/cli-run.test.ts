/**
 * `moecode run`, `eval` and `info` as real child processes on a generated tiny model: run streams the
 * same text the engine generates in-process and reports prefill/decode speed on stderr; Ctrl-C cancels
 * between tokens; eval prints the conformance JSON (log-softmax rows and greedy tokens, checked against
 * llama.cpp); info describes the model.
 */
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { renderChat } from '../../daemon/engine/chat-template.js';
import { Engine } from '../../daemon/engine/engine.js';
import { generate } from '../../daemon/engine/generate.js';
import { noControlMask } from '../../daemon/engine/token-mask.js';
import type { SamplingParams } from '../../daemon/gpu/graph-runner.js';
import { modelUnavailable } from '../helpers/backend-available.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { disposeOracle, oracleRun } from '../helpers/llama-oracle.js';

const ROOT = resolve(__dirname, '..', '..');
const PROMPT = 'def parse(line):\n    key, value = line.split(';

let noModel: string | undefined;
let modelPath = '';
let engine: Engine | undefined;

interface Chunk {
  at: number;
  text: string;
}
interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  outChunks: Chunk[];
  errChunks: Chunk[];
  exitAt: number;
}

/** Runs the CLI; `onStdout` may act on the child (e.g. send SIGINT). */
function moecode(args: string[], onStdout?: (child: ReturnType<typeof spawn>, text: string) => void): Promise<Run> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', 'tsx', 'daemon/cli/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const outChunks: Chunk[] = [];
    const errChunks: Chunk[] = [];
    child.stdout.setEncoding('utf8').on('data', (s: string) => {
      outChunks.push({ at: performance.now() - t0, text: s });
      onStdout?.(child, s);
    });
    child.stderr.setEncoding('utf8').on('data', (s: string) => errChunks.push({ at: performance.now() - t0, text: s }));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', fail);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const join = (c: Chunk[]) => c.map((x) => x.text).join('');
      done({ code, signal, stdout: join(outChunks), stderr: join(errChunks), outChunks, errChunks, exitAt: performance.now() - t0 });
    });
  });
}

function needModel(t: TestContext): boolean {
  if (noModel) t.skip(noModel);
  return !noModel;
}

/** What the engine generates in-process with the CLI's settings (default context, slot 0). */
async function expected(prompt: number[], maxTokens: number, sampling: SamplingParams): Promise<string> {
  const session = engine!.session(0);
  session.reset();
  // as `moecode run`: control tokens that do not end generation are never sampled
  return (await generate(session, engine!.tokenizer, prompt, { maxTokens, sampling, masks: { every: noControlMask(engine!.tokenizer) } })).text;
}

before(async () => {
  modelPath = await ensureModel({ arch: 'llama', preset: 'tiny', weightType: 'F32' });
  noModel = await modelUnavailable();
  if (noModel) {
    console.log(`# model tests skipped: ${noModel}`);
    return;
  }
  engine = await Engine.load(modelPath);
});

after(async () => {
  await engine?.dispose();
  await disposeOracle();
});

test('moecode run streams the generated text to stdout and speeds to stderr', async (t) => {
  if (!needModel(t)) return;
  const r = await moecode(['run', modelPath, '--prompt', PROMPT, '--max-tokens', '16']);
  assert.equal(r.code, 0, r.stderr);
  const want = await expected(engine!.tokenizer.encode(PROMPT), 16, { temperature: 0, topK: 40, topP: 0.95, seed: 42 });
  assert.equal(r.stdout, `${want}\n`, 'stdout is the greedy continuation (default temperature 0)');
  const stats = /\[(\w+)\] prompt (\d+) tokens: prefill ([\d.]+) tok\/s \((\d+) ms\); decode (\d+) tokens: ([\d.]+) tok\/s/.exec(r.stderr);
  assert.ok(stats, `stats line on stderr: ${r.stderr}`);
  assert.equal(Number(stats[2]), engine!.tokenizer.encode(PROMPT).length);
  assert.ok(Number(stats[3]) > 0 && Number(stats[6]) > 0, 'positive tok/s');
  assert.match(r.stderr, /moecode-llama-tiny on .+, loaded in [\d.]+ s/);
  // Streaming: the text arrives in pieces, well before the process ends and before the stats line.
  const statsAt = r.errChunks.find((c) => c.text.includes('tok/s'))!.at;
  assert.ok(r.outChunks.length >= 3, `${r.outChunks.length} stdout chunks`);
  assert.ok(r.outChunks[0].at < statsAt, 'the first text came before the stats');
  assert.ok(r.outChunks.filter((c) => c.at < statsAt).length >= 2, 'several pieces came before the stats');
});

test('moecode run with a seed is reproducible and matches the engine', async (t) => {
  if (!needModel(t)) return;
  const args = (seed: number) => ['run', modelPath, '--prompt', PROMPT, '--max-tokens', '12', '--temperature', '0.8', '--top-k', '40', '--top-p', '0.95', '--seed', String(seed)];
  const [a, b, c] = [await moecode(args(5)), await moecode(args(5)), await moecode(args(6))];
  for (const r of [a, b, c]) assert.equal(r.code, 0, r.stderr);
  assert.equal(a.stdout, b.stdout);
  assert.notEqual(a.stdout, c.stdout);
  const want = await expected(engine!.tokenizer.encode(PROMPT), 12, { temperature: 0.8, topK: 40, topP: 0.95, seed: 5 });
  assert.equal(a.stdout, `${want}\n`);
});

test('moecode run --chat renders the chat template', async (t) => {
  if (!needModel(t)) return;
  const r = await moecode(['run', modelPath, '--prompt', 'hello', '--chat', '--max-tokens', '8']);
  assert.equal(r.code, 0, r.stderr);
  const e = engine!;
  const text = await renderChat(e.chatTemplate, [{ role: 'user', content: 'hello' }], { bosToken: '', eosToken: '', addGenerationPrompt: true });
  const ids = e.tokenizer.encode(text, { parseSpecial: true });
  assert.match(r.stderr, new RegExp(`prompt ${ids.length} tokens`));
  assert.equal(r.stdout, `${await expected(ids, 8, { temperature: 0, topK: 40, topP: 0.95, seed: 42 })}\n`);
});

test('Ctrl-C cancels moecode run between tokens', async (t) => {
  if (!needModel(t)) return;
  let sent = false;
  const r = await moecode(['run', modelPath, '--prompt', PROMPT, '--max-tokens', '400'], (child) => {
    if (!sent) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  assert.equal(r.signal, null, 'it handled SIGINT instead of dying of it');
  assert.equal(r.code, 0, r.stderr);
  const m = /\[cancelled\] prompt \d+ tokens: .* decode (\d+) tokens/.exec(r.stderr);
  assert.ok(m, `reports the cancellation: ${r.stderr}`);
  assert.ok(Number(m[1]) < 400);
});

test('moecode eval prints log-softmax rows and greedy tokens that agree with llama.cpp', async (t) => {
  if (!needModel(t)) return;
  const tokens = engine!.tokenizer.encode(PROMPT);
  const r = await moecode(['eval', modelPath, '--tokens', tokens.join(','), '--greedy', '6', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout) as { logprobs: number[][]; greedy: number[] };
  assert.deepEqual(Object.keys(out), ['logprobs', 'greedy']);
  assert.equal(out.logprobs.length, tokens.length);
  const V = engine!.model.cfg.n_vocab;
  for (const row of out.logprobs) {
    assert.equal(row.length, V);
    const mx = Math.max(...row);
    assert.ok(Math.abs(mx + Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0))) < 1e-4, 'each row is a normalised log-distribution');
  }
  assert.equal(out.greedy.length, 6);
  const last = out.logprobs.at(-1)!;
  assert.equal(out.greedy[0], last.indexOf(Math.max(...last)), 'the first greedy token is the argmax of the last row');
  const oracle = await oracleRun(modelPath, tokens, 6);
  assert.deepEqual(out.greedy, oracle.greedy);
  let maxDiff = 0;
  oracle.logprobs.forEach((row, i) => row.forEach((lp, v) => lp > -30 && (maxDiff = Math.max(maxDiff, Math.abs(lp - out.logprobs[i][v])))));
  assert.ok(maxDiff < 2e-3, `max |Δ log p| vs llama.cpp ${maxDiff}`);
});

test('moecode info describes the model, as text and as JSON', async () => {
  const text = await moecode(['info', modelPath]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, /architecture\s+llama, GGUF v3/);
  assert.match(text.stdout, /experts\s+8, 2 used per token, width 64/);
  assert.match(text.stdout, /memory plan:/);
  const json = await moecode(['info', modelPath, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const info = JSON.parse(json.stdout) as { config: { arch: string; n_vocab: number; n_layer: number }; params: { total: number; activePerToken: number } };
  assert.equal(info.config.arch, 'llama');
  assert.deepEqual([info.config.n_vocab, info.config.n_layer], [512, 2]);
  assert.ok(info.params.activePerToken > 0 && info.params.activePerToken < info.params.total);
});
