/**
 * SentencePiece tokenizer rules on tiny vocabularies built in the test (no llama.cpp needed; the
 * comparison with llama.cpp itself is tokenizer-spm-llama.test.ts): best score merged first and the
 * leftmost pair on ties, the space prefix and '▁', byte fallback, the unknown token when a byte has no
 * token, the leading-space rule of decode(), BOS/EOS defaults, and bad input.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { StreamDecoder } from '../../daemon/engine/tokenizer/stream-decoder.js';
import { Tokenizer, TokenizerError, type TokenizerData } from '../../daemon/engine/tokenizer/tokenizer.js';
import { spmFuzz } from '../helpers/spm-fixtures.js';

const HEX = '0123456789ABCDEF';

/** <unk> <s> </s>, optionally the 256 byte tokens, then `pieces` as [text, score, type?]. */
function vocab(pieces: [string, number, number?][], opts: { bytes?: boolean } = {}): TokenizerData {
  const tokens = ['<unk>', '<s>', '</s>'];
  const tokenTypes = [2, 3, 3];
  const scores = [0, 0, 0];
  if (opts.bytes ?? true) {
    for (let b = 0; b < 256; b++) {
      tokens.push(`<0x${HEX[b >> 4]}${HEX[b & 15]}>`);
      tokenTypes.push(6);
      scores.push(0);
    }
  }
  for (const [t, score, type] of pieces) {
    tokens.push(t);
    scores.push(score);
    tokenTypes.push(type ?? 1);
  }
  return { model: 'llama', tokens, tokenTypes, scores, merges: [] };
}

function make(d: TokenizerData, warnings: string[] = []): Tokenizer {
  return Tokenizer.fromData(d, { warn: (m) => warnings.push(m) });
}

/** encode() without BOS/EOS, as token texts. */
function pieces(tok: Tokenizer, text: string, parseSpecial = false): string[] {
  return tok.encode(text, { addBos: false, addEos: false, parseSpecial }).map((id) => tok.tokenText(id));
}

describe('SentencePiece encoding', () => {
  test('the best-scoring pair is merged first, wherever it is', () => {
    const tok = make({ ...vocab([['a', -10], ['b', -10], ['c', -10], ['d', -10], ['ab', -3], ['cd', -1], ['bc', -2], ['abcd', -4]]), addSpacePrefix: false });
    // cd (-1) first, then ab (-3): "bc" (-2) never gets the chance, then ab+cd = abcd
    assert.deepEqual(pieces(tok, 'abcd'), ['abcd']);
    assert.deepEqual(pieces(tok, 'abc'), ['a', 'bc']);
  });

  test('equal scores: the leftmost pair is merged first', () => {
    const tok = make({ ...vocab([['a', -10], ['b', -10], ['c', -10], ['ab', -1], ['bc', -1]]), addSpacePrefix: false });
    assert.deepEqual(pieces(tok, 'abc'), ['ab', 'c']);
    assert.deepEqual(pieces(tok, 'abcbc'), ['ab', 'c', 'bc']);
    // scores are compared as float32: these two are equal there
    const f32 = make({ ...vocab([['a', -10], ['b', -10], ['c', -10], ['ab', -1.00000001], ['bc', -1]]), addSpacePrefix: false });
    assert.deepEqual(pieces(f32, 'abc'), ['ab', 'c']);
  });

  test('spaces become ▁ and text gets one in front, also after a special token', () => {
    const tok = make(vocab([['▁', -10], ['a', -10], ['▁a', -1], ['▁▁', -2]]));
    assert.equal(tok.type, 'spm');
    assert.equal(tok.addSpacePrefix, true);
    assert.deepEqual(pieces(tok, 'a'), ['▁a']);
    assert.deepEqual(pieces(tok, ' a'), ['▁', '▁a']); // "▁a" (-1) beats "▁▁" (-2)
    assert.deepEqual(pieces(tok, '  '), ['▁▁', '▁']);
    assert.deepEqual(pieces(tok, 'a a'), ['▁a', '▁a']);
    assert.deepEqual(pieces(tok, 'a</s>a', true), ['▁a', '</s>', '▁a']);
    // without parsing, "</s>" is text: its characters come out as bytes (none is a piece here)
    assert.deepEqual(pieces(tok, '</s>'), ['▁', '<0x3C>', '<0x2F>', '<0x73>', '<0x3E>']);
    const noPrefix = make({ ...vocab([['▁', -10], ['a', -10], ['▁a', -1]]), addSpacePrefix: false });
    assert.deepEqual(pieces(noPrefix, 'a'), ['a']);
    assert.deepEqual(pieces(noPrefix, ' a'), ['▁a']);
  });

  test('tabs and newlines are not spaces; characters that are no piece fall back to bytes', () => {
    const tok = make({ ...vocab([['▁', -10], ['x', -10]]), addSpacePrefix: false });
    assert.deepEqual(pieces(tok, '\tx\n'), ['<0x09>', 'x', '<0x0A>']);
    assert.deepEqual(pieces(tok, '日'), ['<0xE6>', '<0x97>', '<0xA5>']);
    assert.deepEqual(pieces(tok, '😀'), ['<0xF0>', '<0x9F>', '<0x98>', '<0x80>']);
    // a lone surrogate is U+FFFD, as it reaches llama.cpp
    assert.deepEqual(pieces(tok, '\ud800'), ['<0xEF>', '<0xBF>', '<0xBD>']);
  });

  test('a byte without a token becomes the unknown token (llama.cpp would abort), with one warning', () => {
    const warnings: string[] = [];
    const tok = make({ ...vocab([['▁', -10], ['a', -10]], { bytes: false }), addSpacePrefix: false }, warnings);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /no token for 255 byte value/); // "a" stands for its own byte
    assert.deepEqual(pieces(tok, 'a日b'), ['a', '<unk>', '<unk>', '<unk>', '<unk>']);
  });

  test('merges may form any token, even a control one, as in llama.cpp', () => {
    const tok = make({ ...vocab([['<', -10], ['/', -10], ['s', -10], ['>', -10], ['</', -2], ['s>', -2]]), addSpacePrefix: false });
    assert.deepEqual(pieces(tok, '</s>'), ['</s>']);
  });

  test('line-by-line encoding (no piece holds a newline) gives what encoding the whole text gives', () => {
    const pieces: [string, number][] = [['▁', -10], ['a', -10], ['b', -10], ['▁a', -1], ['ab', -1], ['▁▁', -2], ['b▁', -1], ['ba', -1]];
    const byLine = make(vocab(pieces));
    // a piece holding "\n" that no text forms switches line-by-line encoding off
    const whole = make(vocab([...pieces, ['\u0001\n\u0001', -1]]));
    const texts = spmFuzz(300, 21).concat(['a\nb', '\n\n a', 'ab ab\n ab\n\n  ba', ' \n ']);
    for (const text of texts) {
      for (const parseSpecial of [false, true]) {
        assert.deepEqual(byLine.encode(text, { parseSpecial }), whole.encode(text, { parseSpecial }), JSON.stringify(text));
      }
      // and again from the line cache
      assert.deepEqual(byLine.encode(text), whole.encode(text), JSON.stringify(text));
    }
  });

  test('a 200 KB source file encodes and decodes back', () => {
    const tok = make(vocab([['▁', -10], ...[...'abcdefghijklmnopqrstuvwxyz(){};=.'].map((c): [string, number] => [c, -20]), ['▁▁', -1], ['▁▁▁▁', -2], ['re', -3], ['turn', -4], ['▁return', -5]]));
    const line = '    return fn(a) + b; // 日本 😀\n\tif (x) { y = z.w; }\n';
    const text = line.repeat(Math.ceil(200_000 / line.length));
    const ids = tok.encode(text, { addBos: false });
    assert.ok(ids.length > 0);
    assert.equal(tok.decode(ids), text);
    // one 1 MB line (minified code): not cached, and the scratch space it needed is let go
    const long = 'a=b(c);d.e={f:g};'.repeat(60_000);
    const t0 = performance.now();
    const longIds = tok.encode(long, { addBos: false });
    assert.equal(tok.decode(longIds), long);
    assert.ok(performance.now() - t0 < 20_000, 'bounded time');
  });
});

describe('SentencePiece special tokens, BOS and EOS', () => {
  test('default ids when the GGUF names none: unk 0, bos 1, eos 2; add_bos true, add_eos false', () => {
    const tok = make(vocab([['a', -1]]));
    assert.deepEqual([tok.unkId, tok.bosId, tok.eosId, tok.addBos, tok.addEos], [0, 1, 2, true, false]);
    assert.deepEqual(tok.encode('a'), [1, ...tok.encode('a', { addBos: false })]);
    assert.ok(tok.isEog(2));
  });

  test('an out-of-range bos id falls back to the default, with a warning', () => {
    const warnings: string[] = [];
    const tok = make({ ...vocab([]), bosId: 99999 }, warnings);
    assert.equal(tok.bosId, 1);
    assert.ok(warnings.some((w) => /bos = 99999/.test(w)));
  });

  test('add_eos appends EOS, also to empty text; the option overrides it', () => {
    const tok = make({ ...vocab([['▁a', -1]]), addEos: true, addBos: false });
    assert.deepEqual(tok.encode('a'), [tok.tokenId('▁a')!, 2]);
    assert.deepEqual(tok.encode(''), [2]);
    assert.deepEqual(tok.encode('a', { addEos: false }), [tok.tokenId('▁a')!]);
    assert.deepEqual(make(vocab([])).encode(''), [1]);
  });

  test('user-defined tokens are matched in any text and count as special for the space prefix', () => {
    const tok = make(vocab([['▁', -10], ['x', -10], ['▁x', -1], ['my token', 0, 4]]));
    assert.deepEqual(pieces(tok, 'xmy tokenx'), ['▁x', 'my token', '▁x']);
  });
});

describe('SentencePiece decoding', () => {
  const tok = make(vocab([['▁hello', -1], ['▁▁x', -1], ['[PAD0]', 0, 5], ['<tool>', 0, 4]]));
  const id = (t: string): number => tok.tokenId(t)!;

  test('▁ is a space; one leading space of the first token is dropped', () => {
    assert.equal(tok.decode([id('▁hello')]), 'hello');
    assert.equal(tok.decode([id('▁▁x')]), ' x');
    assert.equal(tok.decode([id('▁hello'), id('▁hello')]), 'hello hello');
    assert.equal(new TextDecoder().decode(tok.tokenToBytes(id('▁hello'))), ' hello');
  });

  test('a first special token keeps the space of the next one; hidden or shown', () => {
    assert.equal(tok.decode([1, id('▁hello')]), '<s> hello');
    assert.equal(tok.decode([1, id('▁hello')], { skipSpecial: true }), ' hello');
    assert.equal(tok.decode([id('<tool>'), id('▁hello')], { skipSpecial: true }), '<tool> hello');
  });

  test('without add_space_prefix nothing is dropped', () => {
    const raw = make({ ...vocab([['▁hello', -1]]), addSpacePrefix: false });
    assert.equal(raw.decode([raw.tokenId('▁hello')!]), ' hello');
  });

  test('byte tokens are bytes, unused tokens nothing; the stream decoder holds partial characters', () => {
    const bytes = [0xe6, 0x97, 0xa5].map((b) => 3 + b);
    assert.equal(tok.decode([id('▁hello'), ...bytes]), 'hello日');
    assert.equal(tok.decode([id('[PAD0]')]), '');
    const d = new StreamDecoder(tok);
    assert.deepEqual([id('▁hello'), ...bytes].map((i) => d.push(i)), [' hello', '', '', '日']);
    assert.equal(d.push(3 + 0xe6) + d.flush(), '\ufffd');
  });
});

describe('SentencePiece metadata and bad input', () => {
  const base = new Map<string, unknown>([
    ['tokenizer.ggml.model', 'llama'],
    ['tokenizer.ggml.tokens', ['<unk>', '<s>', '</s>', '▁a']],
    ['tokenizer.ggml.scores', new Float32Array([0, 0, 0, -1])],
    ['tokenizer.ggml.token_type', new Int32Array([2, 3, 3, 1])],
  ]);

  test('the adapter reads scores, unk id, add_eos and add_space_prefix; no merges needed', () => {
    const m = new Map(base);
    m.set('tokenizer.ggml.unknown_token_id', 0);
    m.set('tokenizer.ggml.add_eos_token', true);
    m.set('tokenizer.ggml.add_space_prefix', false);
    const d = tokenizerDataFromGguf(m);
    assert.deepEqual([d.model, Array.from(d.scores!), d.unkId, d.addEos, d.addSpacePrefix, d.merges], ['llama', [0, 0, 0, -1], 0, true, false, []]);
    const tok = make(d);
    assert.deepEqual([tok.addEos, tok.addSpacePrefix], [true, false]);
  });

  test('integer scores are accepted, as llama.cpp does', () => {
    const m = new Map(base);
    m.set('tokenizer.ggml.scores', new Int32Array([0, 0, 0, -1]));
    assert.deepEqual(make(tokenizerDataFromGguf(m)).encode('a', { addBos: false }), [3]);
  });

  test('typed errors: scores of the wrong type or too few, an unsupported tokenizer model', () => {
    const wrong = new Map(base);
    wrong.set('tokenizer.ggml.scores', ['x', 'y', 'z', 'w']);
    assert.throws(() => tokenizerDataFromGguf(wrong), (e) => e instanceof TokenizerError && /scores is not an array of numbers/.test(e.message));
    const short = tokenizerDataFromGguf(base);
    assert.throws(() => make({ ...short, scores: [0, 0] }), (e) => e instanceof TokenizerError && /scores has 2 entries for 4 tokens/.test(e.message));
    assert.throws(() => make({ ...short, model: 'bert' }), (e) => e instanceof TokenizerError && /"bert" is not supported \(only "gpt2", "llama"\)/.test(e.message));
  });
});
