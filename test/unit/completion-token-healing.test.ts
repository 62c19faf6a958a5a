/**
 * Token healing (daemon/completion/token-healing.ts) on the shipped model's BPE vocabulary (4096 tokens
 * with FIM tokens): which token is taken back, the first-token mask against a brute-force reading of
 * the rule, KV-stable prompts while typing, the cases left alone, and cutting the healed text from the
 * output. A byte vocabulary covers a character split across tokens.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { buildFimPrompt } from '../../daemon/completion/fim-prompt.js';
import { healerFor, stripHealed, TokenHealer } from '../../daemon/completion/token-healing.js';
import { commonPrefixLength } from '../../daemon/engine/session.js';
import { allowedIds, maskAllows } from '../../daemon/engine/token-mask.js';
import { BYTE_TO_CHAR } from '../../daemon/engine/tokenizer/byte-level.js';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';

const SHIPPED = join(import.meta.dirname, '../../models/moecode-coder.gguf');
const BUDGET = { budget: 1000 };

/** The rule, read literally: text tokens (not special, some bytes) whose bytes begin with `head`. */
function bruteForce(tok: Tokenizer, head: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i < tok.vocabSize; i++) {
    const b = tok.tokenToBytes(i);
    if (tok.isSpecial(i) || b.length === 0 || b.length < head.length) continue;
    if (Buffer.from(b.subarray(0, head.length)).equals(Buffer.from(head))) out.push(i);
  }
  return out;
}

describe('on the shipped vocabulary', () => {
  let tok: Tokenizer;
  let skip: string | undefined;
  before(async () => {
    if (!existsSync(SHIPPED)) {
      skip = `${SHIPPED} is missing`;
      return;
    }
    const f = await openGguf(SHIPPED);
    try {
      tok = Tokenizer.fromData(tokenizerDataFromGguf(f.metadata), { warn: () => {} });
    } finally {
      await f.close();
    }
  });

  test('mid-word in FIM mode: the last prefix token is taken back; the first token must start with it', (t) => {
    if (skip) return t.skip(skip);
    const prefix = 'def area(r):\n    retu';
    const p = buildFimPrompt(tok, prefix, '\n\nprint(area(2))\n', BUDGET);
    assert.equal(p.mode, 'fim');
    const last = p.ids[p.prefixEnd - 1]!;
    const h = healerFor(tok).heal(p);
    assert.equal(h.healed, tok.decode([last]));
    assert.ok(prefix.endsWith(h.healed) && h.healed.length > 0, `healed ${JSON.stringify(h.healed)}`);
    assert.deepEqual(h.ids, [...p.ids.slice(0, p.prefixEnd - 1), ...p.ids.slice(p.prefixEnd)]);
    // the shipped model is SPM: <|fim_middle|> follows the prefix (in PSM it would be <|fim_suffix|>)
    assert.equal(tok.fimOrder, 'spm');
    assert.equal(h.ids[p.prefixEnd - 1], tok.fim.middle, '<|fim_middle|> follows the shortened prefix');
    const allowed = allowedIds(h.firstTokenMask!, tok.vocabSize);
    assert.deepEqual(allowed, bruteForce(tok, tok.tokenToBytes(last)));
    assert.ok(allowed.includes(last), 'the healed token itself is allowed');
    assert.ok(allowed.length > 1, 'and longer tokens too');
    // the token BPE gives for the finished word is among them: "return" can come back as one token
    const word = tok.encode('def area(r):\n    return', { addBos: false });
    const healedPart = tok.decode(word.slice(-1));
    if (healedPart.startsWith(h.healed)) assert.ok(maskAllows(h.firstTokenMask!, word.at(-1)!), `${JSON.stringify(healedPart)} allowed`);
    for (const id of allowed) assert.ok(!tok.isControl(id));
  });

  test('prefix-only prompts heal their last id; the rule is the same', (t) => {
    if (skip) return t.skip(skip);
    const noFim = { encode: tok.encode.bind(tok), fim: {}, addBos: tok.addBos, bosId: tok.bosId };
    const p = buildFimPrompt(noFim, 'impor', '', BUDGET);
    assert.equal(p.mode, 'prefix');
    assert.equal(p.prefixEnd, p.ids.length);
    const h = healerFor(tok).heal(p);
    assert.deepEqual(h.ids, p.ids.slice(0, -1));
    assert.equal(h.healed, tok.decode(p.ids.slice(-1)));
    assert.ok('impor'.endsWith(h.healed));
    assert.deepEqual(allowedIds(h.firstTokenMask!, tok.vocabSize), bruteForce(tok, tok.tokenToBytes(p.ids.at(-1)!)));
  });

  test('after a newline and indentation the whitespace token is healed: the first token starts with it', (t) => {
    if (skip) return t.skip(skip);
    for (const prefix of ['def f(x):\n    ', 'import os\n']) {
      const p = buildFimPrompt(tok, prefix, '', BUDGET);
      const h = healerFor(tok).heal(p);
      assert.ok(h.healed.length > 0 && /^\s+$/.test(h.healed) && prefix.endsWith(h.healed), `${JSON.stringify(prefix)}: healed ${JSON.stringify(h.healed)}`);
      for (const id of allowedIds(h.firstTokenMask!, tok.vocabSize)) assert.ok(tok.decode([id]).startsWith(h.healed));
    }
  });

  test('typing within a word keeps the healed prompt a stable prefix (KV reuse)', (t) => {
    if (skip) return t.skip(skip);
    const head = 'import sys\n\n\ndef main(argv):\n    for arg in argv:\n        print(arg)\n    '; // then "retur" typed
    let prev: number[] | undefined;
    for (const typed of ['r', 're', 'ret', 'retu', 'retur']) {
      const p = buildFimPrompt(tok, head + typed, '\n', BUDGET);
      const h = healerFor(tok).heal(p);
      const prefixIds = h.ids.slice(0, h.ids.indexOf(tok.fim.suffix!));
      if (prev) {
        const common = commonPrefixLength(prev, prefixIds);
        assert.ok(common >= Math.min(prev.length, prefixIds.length) - 1, `${JSON.stringify(typed)}: only ${common} of ${prefixIds.length} prefix ids kept`);
      }
      prev = prefixIds;
    }
  });

  test('not healed: fewer than 2 prefix tokens, an empty prefix', (t) => {
    if (skip) return t.skip(skip);
    for (const prefix of ['', '//']) {
      const p = buildFimPrompt(tok, prefix, 'x\n', BUDGET);
      assert.ok(p.prefixTokens < 2);
      const h = healerFor(tok).heal(p);
      assert.deepEqual(h, { ids: p.ids, healed: '' });
    }
  });

  test('first-token masks are cached per healed token and the healer per tokenizer', (t) => {
    if (skip) return t.skip(skip);
    const h = healerFor(tok);
    assert.equal(healerFor(tok), h);
    const id = tok.encode('retu', { addBos: false }).at(-1)!;
    assert.equal(h.firstTokenMask(id), h.firstTokenMask(id));
  });
});

describe('on a byte vocabulary', () => {
  const tokens = [...BYTE_TO_CHAR, '<|endoftext|>'];
  const tok = Tokenizer.fromData(
    { model: 'gpt2', pre: 'qwen2', tokens, tokenTypes: tokens.map((_, i) => (i < 256 ? 1 : 3)), merges: [], addBos: false },
    { warn: () => {} },
  );
  const prompt = (ids: number[]) => ({ ids, prefixTokens: ids.length, prefixEnd: ids.length });

  test('a token that is the tail of a character split across tokens is not healed', () => {
    const ids = tok.encode('x = "caf\u00e9');
    assert.equal(ids.length, 10); // one token per byte: é is two of them
    assert.deepEqual(new TokenHealer(tok).heal(prompt(ids)), { ids, healed: '' });
  });

  test('a one-byte token heals to every token starting with that byte: itself alone here', () => {
    const ids = tok.encode('ab');
    const h = new TokenHealer(tok).heal(prompt(ids));
    assert.equal(h.healed, 'b');
    assert.deepEqual(h.ids, ids.slice(0, 1));
    assert.deepEqual(allowedIds(h.firstTokenMask!, tok.vocabSize), [ids[1]!]);
    assert.ok(!maskAllows(h.firstTokenMask!, 256), 'never a control token');
  });
});

test('stripHealed: the output relative to the cursor', () => {
  assert.equal(stripHealed('urn x', 'u'), 'rn x');
  assert.equal(stripHealed('u', 'u'), '');
  assert.equal(stripHealed('\n        pass', '\n    '), '    pass');
  assert.equal(stripHealed('anything', ''), 'anything');
  assert.equal(stripHealed('', 'ur'), '', 'nothing generated yet');
  assert.equal(stripHealed('u', 'ur'), '', 'shorter than the healed text so far');
  // the document prefix plus the suggestion never repeats the healed characters
  const prefix = '    retu';
  assert.equal(prefix + stripHealed('urn total', 'u'), '    return total');
});
