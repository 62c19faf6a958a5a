/**
 * Byte-level BPE on small hand-built vocabularies: every expected token sequence below is worked out
 * by hand from the merge ranks and llama.cpp's pre-tokenizer patterns.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BYTE_TO_CHAR } from '../../daemon/engine/tokenizer/byte-level.js';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { preTokenizerFor } from '../../daemon/engine/tokenizer/pre-tokenizers.js';
import { Tokenizer, TokenizerError, type TokenizerData } from '../../daemon/engine/tokenizer/tokenizer.js';

const quiet = { warn: () => {} };

/** Byte-level text of a plain string (' ' → 'Ġ', '\n' → 'Ċ', 'é' → 'Ã©'). */
function bl(s: string): string {
  return [...new TextEncoder().encode(s)].map((b) => BYTE_TO_CHAR[b]).join('');
}

/**
 * Vocabulary: ids 0..255 are the 256 single bytes (id = byte value), then one token per merge
 * result in merge order, then the extra tokens with their types. Merges are given in plain text,
 * "a b", and stored byte-level.
 */
function vocab(merges: string[], extra: [string, number][] = [], more: Partial<TokenizerData> = {}): TokenizerData {
  const tokens = [...BYTE_TO_CHAR];
  const types: number[] = tokens.map(() => 1);
  const blMerges = merges.map((m) => {
    const sp = m.indexOf(' ', 1);
    return `${bl(m.slice(0, sp))} ${bl(m.slice(sp + 1))}`;
  });
  for (const m of blMerges) {
    const t = m.replace(' ', '');
    if (!tokens.includes(t)) {
      tokens.push(t);
      types.push(1);
    }
  }
  for (const [t, type] of extra) {
    tokens.push(t);
    types.push(type);
  }
  return { model: 'gpt2', pre: 'gpt-2', tokens, tokenTypes: types, merges: blMerges, ...more };
}

/** Token texts of an encoding, decoded to plain strings, for readable assertions. */
function pieces(tok: Tokenizer, ids: number[]): string[] {
  return ids.map((id) => new TextDecoder().decode(tok.tokenToBytes(id)));
}

describe('BPE merges', () => {
  test('lower rank merges first, whatever the position', () => {
    const bcFirst = Tokenizer.fromData(vocab(['b c', 'a b']), quiet);
    assert.deepEqual(pieces(bcFirst, bcFirst.encode('abc')), ['a', 'bc']);
    const abFirst = Tokenizer.fromData(vocab(['a b', 'b c']), quiet);
    assert.deepEqual(pieces(abFirst, abFirst.encode('abc')), ['ab', 'c']);
  });

  test('merge results merge further; equal ranks go left to right', () => {
    const tok = Tokenizer.fromData(vocab(['a b', 'ab c', 'x x']), quiet);
    assert.deepEqual(pieces(tok, tok.encode('abcab')), ['abc', 'ab']);
    assert.deepEqual(pieces(tok, tok.encode('xxx')), ['xx', 'x']);
    assert.deepEqual(pieces(tok, tok.encode('xxxx')), ['xx', 'xx']);
  });

  test('a merge of two merged symbols needs both sides complete', () => {
    // "ab cd" has rank 2 but "cd" only forms at rank 3 → it waits for it
    const tok = Tokenizer.fromData(vocab(['a b', 'b c', 'ab cd', 'c d']), quiet);
    assert.deepEqual(pieces(tok, tok.encode('abcd')), ['abcd']);
    // with "b c" first: a + bc + d, and no merge joins those
    const tok2 = Tokenizer.fromData(vocab(['b c', 'a b', 'ab cd', 'c d']), quiet);
    assert.deepEqual(pieces(tok2, tok2.encode('abcd')), ['a', 'bc', 'd']);
  });

  test('characters never merged come out as their UTF-8 byte tokens', () => {
    const tok = Tokenizer.fromData(vocab(['a b']), quiet);
    // ids 0..255 are the bytes themselves in this vocabulary
    assert.deepEqual(tok.encode('é'), [0xc3, 0xa9]);
    assert.deepEqual(tok.encode('😀'), [0xf0, 0x9f, 0x98, 0x80]);
    assert.deepEqual(tok.encode('\t'), [0x09]);
    assert.equal(tok.decode(tok.encode('é😀\t')), 'é😀\t');
  });

  test('merges inside multi-byte characters', () => {
    const d = vocab([]);
    d.tokens.push(bl('é')); // bytes C3 A9
    (d.tokenTypes as number[]).push(1);
    d.merges = [`${BYTE_TO_CHAR[0xc3]} ${BYTE_TO_CHAR[0xa9]}`];
    const tok = Tokenizer.fromData(d, quiet);
    const eId = tok.tokenId(bl('é'))!;
    assert.equal(eId, 256);
    assert.deepEqual(tok.encode('éé'), [eId, eId]);
  });

  test('merges never cross pre-tokenizer words', () => {
    const tok = Tokenizer.fromData(vocab(['a  ', '  b']), quiet); // merges (a, space) then (space, b)
    // gpt2 splits "a b" into "a", " b": the pair (a, space) is never seen
    assert.deepEqual(pieces(tok, tok.encode('a b')), ['a', ' b']);
  });
});

describe('pre-tokenizers split as llama.cpp', () => {
  const split = (pre: string, text: string) => preTokenizerFor(pre, () => {}).split(text);

  test('gpt2: contractions, letters, numbers, other, whitespace runs', () => {
    assert.deepEqual(split('gpt-2', 'Hello world'), ['Hello', ' world']);
    assert.deepEqual(split('gpt-2', "it's 12345!"), ['it', "'s", ' 12345', '!']);
    assert.deepEqual(split('gpt-2', "I'M"), ['I', "'", 'M']); // contractions are lower-case only
    assert.deepEqual(split('gpt-2', 'x\n\n  y'), ['x', '\n\n ', ' y']);
    assert.deepEqual(split('gpt-2', '\tfoo'), ['\t', 'foo']);
    assert.deepEqual(split('gpt-2', 'a   '), ['a', '   ']);
  });

  test('llama3: case-insensitive contractions, 3-digit groups, newline runs', () => {
    assert.deepEqual(split('llama-bpe', "I'M"), ['I', "'M"]);
    assert.deepEqual(split('llama-bpe', '12345'), ['123', '45']);
    assert.deepEqual(split('llama-bpe', 'x\n\n  y'), ['x', '\n\n', ' ', ' y']);
    assert.deepEqual(split('llama-bpe', '\tfoo'), ['\tfoo']);
    assert.deepEqual(split('llama-bpe', 'a;\n\nb'), ['a', ';\n\n', 'b']);
  });

  test('qwen2: single digits; deepseek-coder: letters, punctuation and digits apart', () => {
    assert.deepEqual(split('qwen2', 'v12'), ['v', '1', '2']);
    assert.deepEqual(split('deepseek-coder', 'a1b\nc'), ['a', '1', 'b', '\n', 'c']);
    assert.deepEqual(split('deepseek-coder', 'f(x) = 1'), ['f', '(', 'x', ')', ' = ', '1']);
  });

  test('starcoder and default split digits off first', () => {
    assert.deepEqual(split('starcoder', 'x=123'), ['x', '=', '1', '2', '3']);
    assert.deepEqual(split('refact', 'x=12'), ['x', '=', '1', '2']);
    assert.deepEqual(split('default', 'a+b'), ['a', '+', 'b']);
  });

  test('gpt-4o splits camel case', () => {
    assert.deepEqual(split('gpt-4o', 'HelloWorld'), ['Hello', 'World']);
    assert.deepEqual(split('llama-bpe', 'HelloWorld'), ['HelloWorld']);
  });

  test("whitespace is llama.cpp's set: U+0085 is, U+FEFF is not", () => {
    assert.deepEqual(split('gpt-2', 'a\u0085\u0085b'), ['a', '\u0085', '\u0085', 'b']);
    assert.deepEqual(split('gpt-2', 'a \ufeffb'), ['a', ' \ufeff', 'b']);
  });

  test('aliases and fallback', () => {
    const warnings: string[] = [];
    assert.equal(preTokenizerFor('olmo', (m) => warnings.push(m)).name, 'gpt2');
    assert.equal(preTokenizerFor('smaug-bpe', (m) => warnings.push(m)).name, 'dbrx');
    assert.equal(warnings.length, 0);
    const unknown = preTokenizerFor('no-such-pre', (m) => warnings.push(m));
    assert.equal(unknown.name, 'gpt2');
    assert.match(warnings[0]!, /no-such-pre/);
    assert.equal(preTokenizerFor(undefined, (m) => warnings.push(m)).name, 'default');
  });

  test('whitespace runs through the whole pipeline depend on the pre-tokenizer', () => {
    const merges = ['\n \n', '\n\n  ', '  y'];
    const gpt2 = Tokenizer.fromData(vocab(merges), quiet);
    assert.deepEqual(pieces(gpt2, gpt2.encode('x\n\n  y')), ['x', '\n\n ', ' y']);
    const llama3 = Tokenizer.fromData(vocab(merges, [], { pre: 'llama-bpe', addBos: false }), quiet);
    assert.deepEqual(pieces(llama3, llama3.encode('x\n\n  y')), ['x', '\n\n', ' ', ' y']);
  });
});

describe('special tokens', () => {
  const CONTROL = 3;
  const USER = 4;
  const data = vocab(['h i'], [['<|im_start|>', CONTROL], ['<|im_end|>', CONTROL], ['<tool>', USER], ['<s>', CONTROL]], { bosId: 0, eosId: 0 });
  data.bosId = data.tokens.indexOf('<s>');
  const tok = Tokenizer.fromData(data, quiet);
  const imStart = tok.tokenId('<|im_start|>')!;
  const imEnd = tok.tokenId('<|im_end|>')!;
  const toolId = tok.tokenId('<tool>')!;
  const hi = tok.tokenId('hi')!;

  test('control tokens are parsed only with parseSpecial', () => {
    assert.deepEqual(tok.encode('<|im_start|>hi<|im_end|>', { parseSpecial: true }), [imStart, hi, imEnd]);
    const plain = tok.encode('<|im_start|>hi<|im_end|>');
    assert.ok(!plain.includes(imStart) && !plain.includes(imEnd));
    assert.equal(tok.decode(plain), '<|im_start|>hi<|im_end|>');
  });

  test('user-defined tokens are matched either way, as in llama.cpp', () => {
    assert.deepEqual(tok.encode('hi<tool>hi'), [hi, toolId, hi]);
    assert.deepEqual(tok.encode('hi<tool>hi', { parseSpecial: true }), [hi, toolId, hi]);
  });

  test('longest special token is cut first', () => {
    const t = Tokenizer.fromData(vocab([], [['ab', CONTROL], ['bcd', CONTROL], ['<x>', CONTROL], ['<x>y', CONTROL]]), quiet);
    // "bcd" (3 bytes) is cut before "ab" (2), leaving "a" as text
    assert.deepEqual(t.encode('abcd', { parseSpecial: true }), [0x61, t.tokenId('bcd')!]);
    assert.deepEqual(t.encode('<x>y<x>', { parseSpecial: true }), [t.tokenId('<x>y')!, t.tokenId('<x>')!]);
  });

  test('add_bos: from the data, the pre-tokenizer default, or the call', () => {
    assert.deepEqual(tok.encode('hi'), [hi]);
    assert.deepEqual(tok.encode('hi', { addBos: true }), [data.bosId, hi]);
    const withBos = Tokenizer.fromData({ ...data, addBos: true }, quiet);
    assert.deepEqual(withBos.encode('hi'), [data.bosId, hi]);
    assert.deepEqual(withBos.encode(''), [data.bosId]);
    assert.deepEqual(withBos.encode('hi', { addBos: false }), [hi]);
    const llama3 = Tokenizer.fromData({ ...data, pre: 'llama3' }, quiet); // llama.cpp: llama3 adds BOS by default
    assert.equal(llama3.addBos, true);
    assert.equal(Tokenizer.fromData({ ...data, pre: 'llama3', addBos: false }, quiet).addBos, false);
  });

  test('decode skips control tokens on request, keeps user-defined ones', () => {
    const ids = [imStart, hi, toolId, imEnd];
    assert.equal(tok.decode(ids), '<|im_start|>hi<tool><|im_end|>');
    assert.equal(tok.decode(ids, { skipSpecial: true }), 'hi<tool>');
    assert.equal(tok.isControl(imStart), true);
    assert.equal(tok.isControl(toolId), false);
    assert.equal(tok.isControl(hi), false);
  });
});

describe('end-of-generation and FIM discovery', () => {
  test('eog from text, with control-looking normal tokens made control', () => {
    // "<|im_end|>" typed as normal (1): llama.cpp makes it control and end-of-generation
    const tok = Tokenizer.fromData(vocab([], [['<|endoftext|>', 3], ['<|im_end|>', 1], ['<|im_start|>', 3]], { eosId: 256 }), quiet);
    const imEnd = tok.tokenId('<|im_end|>')!;
    assert.deepEqual([...tok.eogIds].sort(), [256, imEnd].sort());
    assert.equal(tok.isControl(imEnd), true);
    assert.equal(tok.eosId, 256);
    assert.ok(!tok.eogIds.has(tok.tokenId('<|im_start|>')!));
    // and it no longer comes out of plain text
    assert.ok(!tok.encode('<|im_end|>').includes(imEnd));
  });

  test('FIM ids from token text; pad/repo/file-sep end generation', () => {
    const names = ['<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>', '<|repo_name|>', '<|file_sep|>'];
    const tok = Tokenizer.fromData(vocab([], names.map((n) => [n, 3])), quiet);
    const [pre, suf, mid, pad, rep, sep] = names.map((n) => tok.tokenId(n)!);
    assert.deepEqual({ ...tok.fim }, { prefix: pre, suffix: suf, middle: mid, pad, rep, sep });
    assert.ok(tok.eogIds.has(pad!) && tok.eogIds.has(rep!) && tok.eogIds.has(sep!));
    assert.ok(!tok.eogIds.has(pre!));
  });

  test('other FIM spellings, and GGUF ids win over text', () => {
    const t1 = Tokenizer.fromData(vocab([], [['<fim_prefix>', 3], ['<fim_suffix>', 3], ['<fim_middle>', 3]]), quiet);
    assert.equal(t1.fim.prefix, 256);
    assert.equal(t1.fim.middle, 258);
    const t2 = Tokenizer.fromData(vocab([], [['<｜fim▁begin｜>', 3], ['<｜fim▁hole｜>', 3], ['<｜fim▁end｜>', 3]]), quiet);
    assert.deepEqual([t2.fim.prefix, t2.fim.suffix, t2.fim.middle], [256, 257, 258]);
    const t3 = Tokenizer.fromData(vocab([], [['<PRE>', 3], ['<SUF>', 3], ['<MID>', 3]], { fim: { prefix: 258 } }), quiet);
    assert.deepEqual([t3.fim.prefix, t3.fim.suffix, t3.fim.middle], [258, 257, 258]);
  });

  test('harmony-style vocabularies: <|end|> is not end-of-generation next to <|return|> and <|call|>', () => {
    const tok = Tokenizer.fromData(vocab([], [['<|end|>', 3], ['<|return|>', 3], ['<|call|>', 3], ['<|channel|>', 3]]), quiet);
    assert.ok(!tok.eogIds.has(256));
    assert.ok(tok.eogIds.has(257) && tok.eogIds.has(258));
    // llama.cpp makes <|channel|> user-defined: always rendered, matched in plain text
    assert.equal(tok.decode([259], { skipSpecial: true }), '<|channel|>');
    const alone = Tokenizer.fromData(vocab([], [['<|end|>', 3]]), quiet);
    assert.ok(alone.eogIds.has(256));
  });
});

describe('decoding', () => {
  const tok = Tokenizer.fromData(vocab(['  w', ' w o'], [['<0x0A>', 6], ['<unused0>', 5]]), quiet);

  test('round trip of varied Unicode and code', () => {
    const texts = [
      'plain ascii', 'emoji 😀👍🏽👨‍👩‍👧 flags 🇫🇷', 'CJK 日本語のテキスト 中文 한국어', 'combining e\u0301 a\u0308 n\u0303',
      'def f(x):\n\treturn x  # tabs\r\n\n', '  leading and trailing  ', '\u00a0\u2003\u3000\u0085\ufeff', 'RTL עברית العربية',
      '', '\u{10FFFF}\u{1F600}', "it's 'quoted' \"double\" `back`",
    ];
    for (const t of texts) assert.equal(tok.decode(tok.encode(t)), t, JSON.stringify(t));
  });

  test('byte tokens decode to their byte, unused tokens to nothing', () => {
    assert.deepEqual([...tok.tokenToBytes(tok.tokenId('<0x0A>')!)], [10]);
    assert.equal(tok.decode([tok.tokenId('<unused0>')!, 0x61]), 'a');
  });

  test('invalid UTF-8 across tokens becomes U+FFFD', () => {
    assert.equal(tok.decode([0xe6, 0x61]), '\ufffda');
    assert.equal(tok.decode([0xf0, 0x9f]), '\ufffd');
  });

  test('out-of-range ids are an error', () => {
    assert.throws(() => tok.decode([tok.vocabSize]), RangeError);
    assert.throws(() => tok.tokenToBytes(-1), RangeError);
  });
});

describe('loading', () => {
  test('only gpt2 and llama (SentencePiece) vocabularies', () => {
    for (const model of ['bert', 't5', 'rwkv', ''])
      assert.throws(() => Tokenizer.fromData({ ...vocab([]), model }, quiet), TokenizerError);
  });

  test('GGUF metadata adapter', () => {
    const v = vocab(['a b'], [['<|im_end|>', 3]]);
    const md = new Map<string, unknown>([
      ['tokenizer.ggml.model', 'gpt2'],
      ['tokenizer.ggml.pre', 'qwen2'],
      ['tokenizer.ggml.tokens', v.tokens],
      ['tokenizer.ggml.token_type', Int32Array.from(v.tokenTypes as number[])],
      ['tokenizer.ggml.merges', v.merges],
      ['tokenizer.ggml.bos_token_id', 1],
      ['tokenizer.ggml.eos_token_id', 257n],
      ['tokenizer.ggml.add_bos_token', false],
      ['tokenizer.ggml.fim_pre_token_id', 3],
      ['tokenizer.ggml.prefix_token_id', 4],
    ]);
    const d = tokenizerDataFromGguf(md);
    assert.equal(d.pre, 'qwen2');
    assert.equal(d.eosId, 257);
    assert.equal(d.addBos, false);
    assert.equal(d.fim?.prefix, 4); // the older key is read last and wins, as in llama.cpp
    const tok = Tokenizer.fromData(d, quiet);
    assert.equal(tok.preTokenizer, 'qwen2');
    assert.ok(tok.eogIds.has(257));
    assert.deepEqual(pieces(tok, tok.encode('ab')), ['ab']);

    assert.throws(() => tokenizerDataFromGguf(new Map([['tokenizer.ggml.model', 'gpt2']])), TokenizerError);
    assert.throws(() => tokenizerDataFromGguf(new Map<string, unknown>([...md, ['tokenizer.ggml.tokens', [1, 2]]])), /tokens/);
  });

  test('special ids outside the vocabulary are dropped with a warning', () => {
    const warnings: string[] = [];
    const tok = Tokenizer.fromData({ ...vocab([]), bosId: 9999 }, { warn: (m) => warnings.push(m) });
    assert.equal(tok.bosId, undefined);
    assert.match(warnings.join('\n'), /bos = 9999/);
  });
});
