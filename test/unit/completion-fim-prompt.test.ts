/**
 * FIM prompts on a byte vocabulary (one token per byte, no merges), so token counts are byte counts
 * and every expectation below can be checked by counting characters.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildFimPrompt, hasFim } from '../../daemon/completion/fim-prompt.js';
import { BYTE_TO_CHAR } from '../../daemon/engine/tokenizer/byte-level.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';

function byteTokenizer(withFim: boolean, fimOrder?: string, warn: (m: string) => void = () => {}): Tokenizer {
  const specials = withFim ? ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|endoftext|>'] : ['<|endoftext|>'];
  const tokens = [...BYTE_TO_CHAR, ...specials];
  return Tokenizer.fromData({ model: 'gpt2', pre: 'qwen2', tokens, tokenTypes: tokens.map((_, i) => (i < 256 ? 1 : 3)), merges: [], addBos: false, fimOrder }, { warn });
}

const fimTok = byteTokenizer(true);
const P = fimTok.tokenId('<|fim_prefix|>')!;
const S = fimTok.tokenId('<|fim_suffix|>')!;
const M = fimTok.tokenId('<|fim_middle|>')!;
const bytes = (s: string) => [...Buffer.from(s, 'utf8')];

test('PSM layout: <|fim_prefix|> prefix <|fim_suffix|> suffix <|fim_middle|>', () => {
  const p = buildFimPrompt(fimTok, 'ab\ncd', 'ef\n', { budget: 100 });
  assert.equal(p.mode, 'fim');
  assert.deepEqual(p.ids, [P, ...bytes('ab\ncd'), S, ...bytes('ef\n'), M]);
  assert.equal(p.prefixTokens, 5);
  assert.equal(p.prefixEnd, 6);
  assert.equal(p.ids[p.prefixEnd], S, 'prefixEnd is where <|fim_suffix|> sits');
  assert.equal(p.suffixTokens, 3);
  assert.equal(p.prefixStart, 0);
});

test('SPM layout when the model says so: <|fim_suffix|> suffix <|fim_prefix|> prefix <|fim_middle|>', () => {
  const tok = byteTokenizer(true, 'spm');
  assert.equal(tok.fimOrder, 'spm');
  const p = buildFimPrompt(tok, 'ab\ncd', 'ef\n', { budget: 100 });
  assert.deepEqual(p.ids, [S, ...bytes('ef\n'), P, ...bytes('ab\ncd'), M]);
  assert.equal(p.prefixEnd, p.ids.length - 1, 'the prefix ends right before <|fim_middle|>');
  // typing at the cursor only appends to the prompt (the KV cache keeps everything before)
  const q = buildFimPrompt(tok, 'ab\ncde', 'ef\n', { budget: 100, anchor: p.prefixStart });
  assert.deepEqual(q.ids.slice(0, p.ids.length - 1), p.ids.slice(0, -1));
});

test('an unknown moecode.fim_order warns and falls back to PSM', () => {
  const warnings: string[] = [];
  const tok = byteTokenizer(true, 'pms', (m) => warnings.push(m));
  assert.equal(tok.fimOrder, 'psm');
  assert.match(warnings.join('\n'), /moecode\.fim_order must be "psm" or "spm", got "pms"/);
  assert.equal(byteTokenizer(true).fimOrder, 'psm', 'absent: PSM');
});

test('prefix-only when the vocabulary has no FIM tokens', () => {
  const tok = byteTokenizer(false);
  assert.equal(hasFim(tok), false);
  const p = buildFimPrompt(tok, 'abc', 'def', { budget: 100 });
  assert.equal(p.mode, 'prefix');
  assert.deepEqual(p.ids, bytes('abc'));
  assert.equal(p.prefixEnd, p.ids.length);
  assert.equal(p.suffixTokens, 0);
});

test('the suffix gets at most a quarter of the budget, cut at a line end', () => {
  const suffix = 'x'.repeat(9) + '\n' + 'y'.repeat(200);
  const p = buildFimPrompt(fimTok, 'a\n', suffix, { budget: 103 });
  // budget 100 after the 3 FIM tokens: suffix at most 25 tokens
  assert.ok(p.suffixTokens <= 25);
  assert.ok(p.suffixTokens > 0);
  assert.equal(p.ids.length, 3 + p.prefixTokens + p.suffixTokens);
});

test('a long prefix is cut at a line start to fit, leaving headroom', () => {
  const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(3, '0')}\n`); // 9 bytes each
  const prefix = lines.join('') + 'tail';
  const p = buildFimPrompt(fimTok, prefix, '', { budget: 203 });
  assert.ok(p.prefixTokens <= 200, `prefix ${p.prefixTokens} tokens over budget`);
  assert.ok(p.prefixTokens >= 100, `prefix ${p.prefixTokens} tokens: window needlessly small`);
  assert.equal(prefix[p.prefixStart - 1], '\n', 'the window starts at a line start');
  assert.deepEqual(p.ids.slice(1, 1 + p.prefixTokens), bytes(prefix.slice(p.prefixStart)));
});

test('the window stays anchored while the user types, so the prompt only grows at the end', () => {
  const lines = Array.from({ length: 100 }, (_, i) => `line ${String(i).padStart(3, '0')}\n`);
  let prefix = lines.join('');
  let prev = buildFimPrompt(fimTok, prefix, '\n}', { budget: 203 });
  let moves = 0;
  for (let i = 0; i < 100; i++) {
    prefix += 'z';
    const next = buildFimPrompt(fimTok, prefix, '\n}', { budget: 203, anchor: prev.prefixStart });
    if (next.prefixStart !== prev.prefixStart) moves++;
    else assert.deepEqual(next.ids.slice(0, 1 + prev.prefixTokens), prev.ids.slice(0, 1 + prev.prefixTokens), 'the old prefix is a prefix of the new prompt');
    assert.ok(next.prefixTokens + next.suffixTokens + 3 <= 203);
    prev = next;
  }
  // 100 characters typed into a 200-token window with ~25% headroom: it moves once or twice, not on every keystroke
  assert.ok(moves >= 1 && moves <= 3, `window moved ${moves} times`);
});

test('consecutive prompts while typing share all but the last tokens of the prefix', () => {
  const prefix = 'const value = compute(';
  const a = buildFimPrompt(fimTok, prefix, ');\n', { budget: 500, anchor: 0 });
  const b = buildFimPrompt(fimTok, prefix + 'x', ');\n', { budget: 500, anchor: a.prefixStart });
  let lcp = 0;
  while (lcp < a.ids.length && a.ids[lcp] === b.ids[lcp]) lcp++;
  assert.equal(lcp, 1 + prefix.length);
});

test('a cursor far from the anchor gets a fresh window', () => {
  const big = 'q'.repeat(8) + '\n';
  const prefix = big.repeat(200);
  const p = buildFimPrompt(fimTok, prefix.slice(0, 90), '', { budget: 203, anchor: 1800 });
  assert.equal(p.prefixStart, 0);
});
