/** Tokenizer.encodeSpans: control tokens are matched only in spans that allow them; text across span boundaries is tokenized as one piece. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BYTE_TO_CHAR } from '../../daemon/engine/tokenizer/byte-level.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';

/** Byte tokens, `merges` (each "left right" adds its merged token) and two control tokens. */
function tokenizer(merges: string[] = []): Tokenizer {
  const tokens = [...BYTE_TO_CHAR, ...merges.map((m) => m.replace(' ', '')), '<|im_start|>', '<|im_end|>'];
  return Tokenizer.fromData({ model: 'gpt2', pre: 'qwen2', tokens, tokenTypes: tokens.map((t) => (t.startsWith('<|') ? 3 : 1)), merges, addBos: false }, { warn: () => {} });
}
const controls = (tok: Tokenizer, ids: readonly number[]) => ids.filter((i) => tok.isControl(i)).map((i) => tok.tokenText(i));

test('control tokens only in spans that allow them', () => {
  const tok = tokenizer();
  const spans = [
    { text: '<|im_start|>user\n', parseSpecial: true },
    { text: 'a <|im_start|> b', parseSpecial: false },
    { text: '<|im_end|>', parseSpecial: true },
  ];
  const ids = tok.encodeSpans(spans);
  assert.deepEqual(controls(tok, ids), ['<|im_start|>', '<|im_end|>']);
  assert.equal(tok.decode(ids), spans.map((s) => s.text).join(''));
  // with no marker text in the plain span: the same ids as the whole text encoded with special parsing
  const plain = [spans[0]!, { text: 'a b', parseSpecial: false }, spans[2]!];
  assert.deepEqual(tok.encodeSpans(plain), tok.encode(plain.map((s) => s.text).join(''), { parseSpecial: true }));
});

test('text on both sides of a span boundary is one piece (merges across it)', () => {
  const tok = tokenizer(['h e', 'he y']);
  const hey = tok.tokenId('hey')!;
  assert.deepEqual(tok.encodeSpans([{ text: 'h', parseSpecial: true }, { text: 'ey', parseSpecial: false }]), [hey]);
  assert.deepEqual(tok.encodeSpans([{ text: '<|im_start|>he', parseSpecial: true }, { text: 'y<|im_end|>', parseSpecial: false }]), [tok.tokenId('<|im_start|>')!, hey, ...tok.encode('<|im_end|>')]);
});

test('encode() is encodeSpans() of one span', () => {
  const tok = tokenizer(['h e']);
  for (const parseSpecial of [false, true]) {
    const text = '<|im_start|>he said <|im_end|>';
    assert.deepEqual(tok.encode(text, { parseSpecial }), tok.encodeSpans([{ text, parseSpecial }]));
  }
});
