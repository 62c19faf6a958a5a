/**
 * GPT-2 byte-level alphabet: every byte 0..255 is shown as one printable code point, so a byte string
 * can be stored as ordinary text in the vocabulary. Printable Latin-1 bytes ('!'..'~', '¡'..'¬',
 * '®'..'ÿ') stand for themselves; the other 68 bytes map, in byte order, to U+0100, U+0101, …
 * (so ' ' is 'Ġ' U+0120 and '\n' is 'Ċ' U+010A). Same table as llama.cpp's unicode_byte_to_utf8_map.
 */

function isSelfMapped(b: number): boolean {
  return (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
}

/** BYTE_TO_CHAR[b]: the one-code-point string standing for byte b. */
export const BYTE_TO_CHAR: readonly string[] = (() => {
  const out = new Array<string>(256);
  let n = 0;
  for (let b = 0; b < 256; b++) out[b] = String.fromCharCode(isSelfMapped(b) ? b : 256 + n++);
  return out;
})();

/** CODE_TO_BYTE[cp]: byte for code point cp of the byte-level alphabet, -1 if cp is not in it. */
const CODE_TO_BYTE: Int16Array = (() => {
  const out = new Int16Array(324).fill(-1); // the alphabet's code points are all < 256 + 68
  for (let b = 0; b < 256; b++) out[BYTE_TO_CHAR[b]!.charCodeAt(0)] = b;
  return out;
})();

const utf8 = new TextEncoder();

export function utf8Bytes(text: string): Uint8Array {
  return utf8.encode(text);
}

/** Byte-level text of a byte string: one alphabet character per byte. */
export function bytesToByteLevel(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]!];
  return s;
}

/**
 * Bytes of a byte-level token text. A character outside the alphabet (a malformed vocabulary) is kept
 * as its own UTF-8 bytes; llama.cpp writes a "[UNK_BYTE_0x…]" marker there instead.
 */
export function byteLevelToBytes(text: string): Uint8Array {
  const out: number[] = [];
  for (const ch of text) {
    const cp = ch.codePointAt(0)!;
    const b = cp < CODE_TO_BYTE.length ? CODE_TO_BYTE[cp]! : -1;
    if (b >= 0) out.push(b);
    else for (const x of utf8.encode(ch)) out.push(x);
  }
  return Uint8Array.from(out);
}
