/**
 * The FIM prompt of a large document tokenizes only the end of the prefix it needs, not the whole
 * prefix: for a 50 MB document the tokenizer sees a few times the characters the budget holds, the
 * prompt still fills its budget from a line start, and the anchored window (typing) stays as cheap.
 * One token per byte (counts are characters), and the shipped model's BPE tokenizer.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { buildFimPrompt } from '../../daemon/completion/fim-prompt.js';
import { BYTE_TO_CHAR } from '../../daemon/engine/tokenizer/byte-level.js';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';

const SHIPPED = join(__dirname, '..', '..', 'models', 'moecode-coder.gguf');

function byteTokenizer(): Tokenizer {
  const tokens = [...BYTE_TO_CHAR, '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|endoftext|>'];
  return Tokenizer.fromData({ model: 'gpt2', pre: 'qwen2', tokens, tokenTypes: tokens.map((_, i) => (i < 256 ? 1 : 3)), merges: [], addBos: false }, { warn: () => {} });
}

/** The tokenizer with the characters it was asked to encode counted. */
function counting(tok: Tokenizer): { tokenizer: Tokenizer; chars: () => number; reset: () => void } {
  let n = 0;
  const tokenizer = new Proxy(tok, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver);
      if (prop === 'encode') {
        return (text: string, opts?: unknown) => {
          n += text.length;
          return target.encode(text, opts as never);
        };
      }
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { tokenizer, chars: () => n, reset: () => (n = 0) };
}

const LINE = '  const total = items.reduce((sum, item) => sum + item.price * item.count, 0);\n';
const BUDGET = 2048;

describe('FIM prompt of a 50 MB document', () => {
  const prefix = LINE.repeat(Math.ceil(50e6 / LINE.length));
  const suffix = '}\n' + LINE.repeat(1000);
  const tok = byteTokenizer();

  test('tokenizes a bounded window at the end of the prefix', () => {
    const c = counting(tok);
    const t0 = performance.now();
    const p = buildFimPrompt(c.tokenizer, prefix, suffix, { budget: BUDGET });
    const ms = performance.now() - t0;
    console.log(`50 MB prefix: ${c.chars()} characters tokenized in ${ms.toFixed(1)} ms; prefix ${p.prefixTokens} tokens, suffix ${p.suffixTokens}`);
    assert.ok(c.chars() <= 16 * BUDGET, `${c.chars()} characters tokenized`);
    assert.ok(p.ids.length <= BUDGET);
    assert.ok(p.prefixTokens >= BUDGET / 2, `the window is needlessly small: ${p.prefixTokens}`);
    assert.equal(prefix[p.prefixStart - 1], '\n', 'the window starts at a line start');
    assert.deepEqual(p.ids.slice(1, 1 + p.prefixTokens), tok.encode(prefix.slice(p.prefixStart)));
  });

  test('typing with the anchored window stays as cheap', () => {
    const first = buildFimPrompt(tok, prefix, suffix, { budget: BUDGET });
    const c = counting(tok);
    let anchor = first.prefixStart;
    let typed = prefix;
    for (let i = 0; i < 20; i++) {
      typed += 'x';
      const p = buildFimPrompt(c.tokenizer, typed, suffix, { budget: BUDGET, anchor });
      assert.ok(p.ids.length <= BUDGET);
      anchor = p.prefixStart;
    }
    assert.ok(c.chars() <= 20 * 16 * BUDGET, `${c.chars()} characters tokenized for 20 keystrokes`);
  });

  test('a single 50 MB line: its last tokens, still bounded', () => {
    const line = 'x=1;'.repeat(12_500_000);
    const c = counting(tok);
    const p = buildFimPrompt(c.tokenizer, line, '', { budget: BUDGET });
    assert.ok(c.chars() <= 16 * BUDGET, `${c.chars()} characters tokenized`);
    assert.ok(p.prefixTokens > BUDGET / 2 && p.ids.length <= BUDGET);
    assert.deepEqual(p.ids.slice(1, 1 + p.prefixTokens), tok.encode(line.slice(line.length - p.prefixTokens)), 'the last characters before the cursor');
  });
});

test("the shipped model's tokenizer: a bounded window of a 50 MB document, the budget filled", async (t) => {
  if (!existsSync(SHIPPED)) return t.skip('models/moecode-coder.gguf is missing');
  const file = await openGguf(SHIPPED);
  const tok = Tokenizer.fromData(tokenizerDataFromGguf(file.metadata), { warn: () => {} });
  await file.close();
  const prefix = LINE.repeat(Math.ceil(50e6 / LINE.length));
  const c = counting(tok);
  const t0 = performance.now();
  const p = buildFimPrompt(c.tokenizer, prefix, '}\n', { budget: BUDGET });
  console.log(`shipped tokenizer, 50 MB prefix: ${c.chars()} characters tokenized in ${(performance.now() - t0).toFixed(1)} ms; prefix ${p.prefixTokens} tokens`);
  assert.ok(c.chars() <= 64 * BUDGET, `${c.chars()} characters tokenized`);
  assert.ok(p.ids.length <= BUDGET && p.prefixTokens >= BUDGET / 2, `prefix ${p.prefixTokens} tokens`);
  assert.equal(prefix[p.prefixStart - 1], '\n');
});
