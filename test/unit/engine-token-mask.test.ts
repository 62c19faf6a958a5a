/**
 * daemon/engine/token-mask.ts: the bitset layout the sample kernel reads, intersections, the per-step
 * masks of a generation, and which control tokens are banned (on the shipped model's vocabulary).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import {
  allowedIds,
  allowedMask,
  allowsAny,
  bannedControlTokens,
  bannedMask,
  intersectMasks,
  maskAllows,
  maskWords,
  noControlMask,
  stepMasks,
} from '../../daemon/engine/token-mask.js';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';

const SHIPPED = join(import.meta.dirname, '../../models/moecode-coder.gguf');

test('bit i & 31 of word i >> 5 is token i, for vocabularies that are and are not multiples of 32', () => {
  for (const n of [1, 31, 32, 33, 1000, 4096]) {
    assert.equal(maskWords(n), Math.ceil(n / 32));
    const odd = allowedMask(n, (i) => i % 3 === 1);
    assert.equal(odd.length, maskWords(n));
    for (let i = 0; i < n; i++) {
      assert.equal(maskAllows(odd, i), i % 3 === 1, `vocab ${n} token ${i}`);
      assert.equal(((odd[Math.floor(i / 32)]! >>> (i % 32)) & 1) === 1, i % 3 === 1);
    }
    // bits past the vocabulary stay clear
    const all = allowedMask(n, () => true);
    assert.equal(allowedIds(all, maskWords(n) * 32).length, n);
  }
  assert.equal(allowedMask(40, (i) => i === 31)[0], 0x80000000);
});

test('bannedMask allows all but the banned ids; intersectMasks keeps what every mask allows', () => {
  const n = 100;
  const b = bannedMask(n, [0, 31, 32, 99, 500]);
  assert.deepEqual(
    allowedIds(b, n),
    Array.from({ length: n }, (_, i) => i).filter((i) => ![0, 31, 32, 99].includes(i)),
  );
  const even = allowedMask(n, (i) => i % 2 === 0);
  const low = allowedMask(n, (i) => i < 40);
  assert.deepEqual(allowedIds(intersectMasks(even, low, b)!, n), [2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 34, 36, 38]);
  assert.equal(intersectMasks(undefined, even, undefined), even, 'a single mask is returned as is');
  assert.equal(intersectMasks(), undefined);
  assert.deepEqual(allowedIds(even, n).length, 50, 'the inputs are not changed');
  assert.throws(() => intersectMasks(even, allowedMask(200, () => true)), RangeError);
});

test('allowsAny looks only at the vocabulary', () => {
  assert.equal(allowsAny(allowedMask(33, () => false), 33), false);
  assert.equal(allowsAny(allowedMask(33, (i) => i === 32), 33), true);
  const past = new Uint32Array(2);
  past[1] = 0b10; // token 33, outside a vocabulary of 33
  assert.equal(allowsAny(past, 33), false);
  assert.equal(allowsAny(allowedMask(63, (i) => i === 62), 63), true);
});

test('stepMasks: the first mask (with every) for token 0, every after; an empty first mask falls back', () => {
  const n = 64;
  const every = allowedMask(n, (i) => i !== 5);
  const first = allowedMask(n, (i) => i === 5 || i === 6);
  const m = stepMasks({ first, every }, n);
  assert.deepEqual(allowedIds(m(0)!, n), [6]);
  assert.equal(m(1), every);
  assert.equal(m(7), every);
  const lone = stepMasks({ first: allowedMask(n, (i) => i === 5), every }, n);
  assert.equal(lone(0), every, 'first ∩ every is empty: every alone');
  const none = stepMasks({}, n);
  assert.equal(none(0), undefined);
  assert.equal(none(3), undefined);
  const onlyFirst = stepMasks({ first }, n);
  assert.equal(onlyFirst(0), first);
  assert.equal(onlyFirst(1), undefined);
});

test('banned control tokens on the shipped vocabulary: FIM markers and <|im_start|> are, end-of-generation tokens are not', async (t) => {
  if (!existsSync(SHIPPED)) return t.skip(`${SHIPPED} is missing`);
  const f = await openGguf(SHIPPED);
  let tok: Tokenizer;
  try {
    tok = Tokenizer.fromData(tokenizerDataFromGguf(f.metadata), { warn: () => {} });
  } finally {
    await f.close();
  }
  const banned = bannedControlTokens(tok);
  const id = (s: string) => tok.tokenId(s)!;
  for (const s of ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|im_start|>']) assert.ok(banned.includes(id(s)), `${s} is banned`);
  for (const eog of tok.eogIds) assert.ok(!banned.includes(eog), `end-of-generation ${tok.tokenText(eog)} stays allowed`);
  assert.ok(banned.every((i) => tok.isControl(i) && !tok.isEog(i)));
  const mask = noControlMask(tok)!;
  assert.equal(noControlMask(tok), mask, 'built once per tokenizer');
  assert.deepEqual(
    Array.from({ length: tok.vocabSize }, (_, i) => i).filter((i) => !maskAllows(mask, i)),
    banned,
  );
  // ordinary text tokens are all allowed
  for (const i of tok.encode('def main():\n    return 0\n')) assert.ok(maskAllows(mask, i));
});

test('noControlMask is undefined when no control token needs banning', () => {
  const tok = { vocabSize: 40, isControl: (i: number) => i >= 38, isEog: (i: number) => i >= 38 };
  assert.equal(bannedControlTokens(tok).length, 0);
  assert.equal(noControlMask(tok), undefined);
  assert.equal(noControlMask(tok), undefined);
});
