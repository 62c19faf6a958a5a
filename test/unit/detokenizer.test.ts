/**
 * StreamDecoder: text per generated token without splitting UTF-8 characters. The vocabulary has the
 * 256 single bytes as ids 0..255, so a character's bytes can be pushed one token at a time.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BYTE_TO_CHAR } from '../../daemon/engine/tokenizer/byte-level.js';
import { StreamDecoder } from '../../daemon/engine/tokenizer/stream-decoder.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';

const A_C3 = `a${BYTE_TO_CHAR[0xc3]}`; // one token: 'a' followed by the first byte of 'é'
const tokens = [...BYTE_TO_CHAR, A_C3, '<|im_end|>', '<tool>'];
const tokenTypes = tokens.map((t) => (t === '<|im_end|>' ? 3 : t === '<tool>' ? 4 : 1));
const tok = Tokenizer.fromData({ model: 'gpt2', pre: 'gpt-2', tokens, tokenTypes, merges: [`a ${BYTE_TO_CHAR[0xc3]}`] }, { warn: () => {} });
const A_C3_ID = 256;
const IM_END = 257;
const TOOL = 258;

function bytesOf(s: string): number[] {
  return [...new TextEncoder().encode(s)];
}

describe('StreamDecoder', () => {
  test('holds a character split across tokens until it completes', () => {
    const d = new StreamDecoder(tok);
    assert.deepEqual(bytesOf('中').map((b) => d.push(b)), ['', '', '中']);
    assert.deepEqual(bytesOf('😀').map((b) => d.push(b)), ['', '', '', '😀']);
    assert.equal(d.flush(), '');
  });

  test('a token that ends inside a character gives its complete part now', () => {
    const d = new StreamDecoder(tok);
    assert.equal(d.push(A_C3_ID), 'a');
    assert.equal(d.push(0xa9), 'é');
  });

  test('pushes and flush add up to decode() for mixed text', () => {
    const text = 'x = "日本語"; // 😀👍🏽 e\u0301 ✓\n';
    const ids = tok.encode(text);
    assert.ok(ids.length > [...text].length, 'text must be split inside characters');
    const d = new StreamDecoder(tok);
    const parts = ids.map((id) => d.push(id));
    assert.equal(parts.join('') + d.flush(), text);
    // nothing ever ends in the middle of a UTF-16 surrogate pair
    for (const p of parts) assert.ok(!/[\ud800-\udbff]$/.test(p), JSON.stringify(p));
  });

  test('control tokens are hidden unless asked; user-defined ones are shown', () => {
    const hidden = new StreamDecoder(tok);
    assert.equal(hidden.push(IM_END), '');
    assert.equal(hidden.push(TOOL), '<tool>');
    const shown = new StreamDecoder(tok, { showSpecial: true });
    assert.equal(shown.push(IM_END), '<|im_end|>');
  });

  test('a hidden control token does not drop held bytes', () => {
    const d = new StreamDecoder(tok);
    const [b0, b1, b2] = bytesOf('中');
    assert.equal(d.push(b0!), '');
    assert.equal(d.push(IM_END), '');
    assert.equal(d.push(b1!), '');
    assert.equal(d.push(b2!), '中');
  });

  test('invalid UTF-8: U+FFFD once a sequence cannot complete, or at flush', () => {
    const d = new StreamDecoder(tok);
    assert.equal(d.push(0xe4), '');
    assert.equal(d.push(0x61), '\ufffda'); // lead byte followed by ASCII: invalid now
    assert.equal(d.push(0xff), '\ufffd'); // never valid
    assert.equal(d.push(0x80), '\ufffd'); // stray continuation byte
    assert.equal(d.push(0xf0), '');
    assert.equal(d.push(0x9f), '');
    assert.equal(d.flush(), '\ufffd'); // incomplete at the end
    // and the decoder starts clean after flush
    assert.equal(d.push(0x62), 'b');
    assert.equal(d.flush(), '');
  });

  test('a leading BOM is text, not swallowed', () => {
    const d = new StreamDecoder(tok);
    assert.equal(bytesOf('\ufeffx').map((b) => d.push(b)).join(''), '\ufeffx');
  });
});
