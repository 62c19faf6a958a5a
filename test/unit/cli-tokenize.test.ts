/**
 * `moecode tokenize` through the built CLI (`npm run build`, then `node bin/moecode.js`): for a
 * SentencePiece and a byte-level BPE model its `--json` ids are llama.cpp's for the same text, with the
 * model's own BOS/EOS rule and special tokens not parsed; the readable listing has one line per id; it
 * needs no weights (a vocabulary-only GGUF works); bad input fails with a clear message and exit code.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { LlamaModel } from 'node-llama-cpp';
import { meta, writeGguf } from '../../daemon/gguf/gguf-writer.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { AWKWARD_TEXTS, handVocabs, writeSpmVocabGguf } from '../helpers/spm-fixtures.js';

type Llama = Awaited<ReturnType<typeof import('node-llama-cpp')['getLlama']>>;

const ROOT = resolve(__dirname, '..', '..');
const BIN = join(ROOT, 'bin', 'moecode.js');
const BUILT = join(ROOT, 'dist', 'cli.js');
const NOT_BUILT = `${BUILT} is missing: run npm run build first`;

function moecode(...args: string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [BIN, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** llama.cpp's ids with the model's own BOS/EOS rule (node-llama-cpp's tokenize() adds neither). */
function llamaIds(model: LlamaModel, text: string): number[] {
  const t = model.tokens;
  return [...(t.shouldPrependBosToken ? [t.bos!] : []), ...Array.from(model.tokenize(text, false) as number[]), ...(t.shouldAppendEosToken ? [t.eos!] : [])];
}

/**
 * Texts for the CLI, a sample of the awkward corpus (the whole of it is compared in-process in
 * tokenizer-spm-llama.test.ts; each CLI run is a process start) plus arguments that look like flags.
 */
const CLI_TEXTS = [
  ...['', ' ', '   leading', '\ttab\tseparated\t', 'line1\nline2\r\nline3\r', '日本語のテキスト', '😀', '</s>', 'text</s>more<s>end'].map((t) => {
    assert.ok(AWKWARD_TEXTS.includes(t));
    return t;
  }),
  AWKWARD_TEXTS.find((t) => t.startsWith('def fib'))!,
  '--json',
  '<|im_end|> <|fim_prefix|>',
];

describe('moecode tokenize', () => {
  let llama: Llama | string = 'not loaded';
  let dir = '';

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'moecode-cli-tok-'));
    try {
      const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
      llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, logger: () => {} });
    } catch (e) {
      llama = `node-llama-cpp unavailable: ${(e as Error).message}`;
    }
  });
  after(async () => {
    if (typeof llama !== 'string') await llama.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  const models: [string, () => Promise<string>][] = [
    ['SentencePiece (Mixtral-like)', () => ensureModel({ arch: 'llama', tokenizer: 'llama' })],
    ['SentencePiece (CodeLlama-like)', () => ensureModel({ arch: 'llama', tokenizer: 'codellama' })],
    ['byte-level BPE (Qwen-like)', () => ensureModel({ arch: 'qwen3moe', preset: 'tiny', weightType: 'F32' })],
  ];
  for (const [label, path] of models) {
    test(`--json gives llama.cpp's ids: ${label}`, async (t) => {
      if (!existsSync(BUILT)) return t.skip(NOT_BUILT);
      if (typeof llama === 'string') return t.skip(llama);
      const modelPath = await path();
      const model = await llama.loadModel({ modelPath, vocabOnly: true });
      try {
        for (const text of CLI_TEXTS) {
          const r = moecode('tokenize', modelPath, `--text=${text}`, '--json');
          assert.equal(r.code, 0, r.stderr);
          assert.deepEqual(JSON.parse(r.stdout), { ids: llamaIds(model, text) }, `${label}: ${JSON.stringify(text)}`);
        }
      } finally {
        await model.dispose();
      }
    });
  }

  test('the readable listing: one line per id with its vocabulary text and decoded text', async (t) => {
    if (!existsSync(BUILT)) return t.skip(NOT_BUILT);
    const modelPath = await ensureModel({ arch: 'llama', tokenizer: 'llama' });
    const text = 'def f():\n    return "日本"';
    const json = JSON.parse(moecode('tokenize', modelPath, '--text', text, '--json').stdout) as { ids: number[] };
    const r = moecode('tokenize', modelPath, '--text', text);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.deepEqual(lines.map((l) => Number(l.trim().split(/\s+/)[0])), json.ids);
    assert.match(lines[0]!, /^\s+1 {2}"<s>" {2}"<s>"$/);
    assert.ok(lines.some((l) => /"<0x0A>" {2}"\\n"$/.test(l)), 'the newline is the byte token <0x0A>');
    assert.ok(lines.some((l) => /"▁def" {2}" def"$/.test(l)), r.stdout);
  });

  test('reads no weights: a vocabulary-only GGUF (no tensors) works', async (t) => {
    if (!existsSync(BUILT)) return t.skip(NOT_BUILT);
    const v = handVocabs().find((x) => x.name === 'merges-reach-special')!;
    const path = join(dir, 'vocab-only.gguf');
    await writeSpmVocabGguf(path, v);
    const r = moecode('tokenize', path, '--text', 'use <tool> here</s>', '--json');
    assert.equal(r.code, 0, r.stderr);
    const ids = (JSON.parse(r.stdout) as { ids: number[] }).ids;
    assert.equal(ids[0], 1, 'BOS by default');
    assert.ok(ids.includes(v.tokens.indexOf('<tool>')), 'user-defined tokens are matched');
    assert.ok(ids.includes(v.tokens.indexOf('</s>')), '"</s>" as text still merges into the token, as in llama.cpp');
    if (typeof llama !== 'string') {
      const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
      try {
        assert.deepEqual(ids, llamaIds(model, 'use <tool> here</s>'));
      } finally {
        await model.dispose();
      }
    }
  });

  test('bad input: no --text, no such file, not a GGUF, an unsupported tokenizer', async (t) => {
    if (!existsSync(BUILT)) return t.skip(NOT_BUILT);
    const modelPath = await ensureModel({ arch: 'llama', tokenizer: 'llama' });
    const noText = moecode('tokenize', modelPath);
    assert.equal(noText.code, 2);
    assert.match(noText.stderr, /tokenize needs --text TEXT/);
    const missing = moecode('tokenize', join(dir, 'nope.gguf'), '--text', 'x');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /model file not found/);
    const junk = join(dir, 'junk.gguf');
    writeFileSync(junk, 'not a gguf file at all');
    const notGguf = moecode('tokenize', junk, '--text', 'x');
    assert.equal(notGguf.code, 1);
    assert.match(notGguf.stderr, /^moecode: .*GGUF/m);
    const bert = join(dir, 'bert.gguf');
    await writeGguf(bert, [meta.str('general.architecture', 'bert'), meta.str('tokenizer.ggml.model', 'bert'), meta.arrStr('tokenizer.ggml.tokens', ['[PAD]', 'a'])], []);
    const unsupported = moecode('tokenize', bert, '--text', 'x');
    assert.equal(unsupported.code, 1);
    assert.match(unsupported.stderr, /tokenizer model "bert" is not supported \(only "gpt2", "llama"\)/);
    assert.equal(unsupported.stdout, '');
  });
});
