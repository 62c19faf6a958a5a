/**
 * Streaming detokenisation: text of each generated token as it arrives, never splitting a UTF-8
 * character across pushes. A token may end inside a multi-byte character (byte-level BPE splits
 * emoji and CJK freely); those bytes are held until the character completes. Bytes that can never
 * form a character come out as U+FFFD as soon as that is certain; an incomplete character still held
 * at the end comes out as U+FFFD from flush().
 */
import type { Tokenizer } from './tokenizer.js';

export interface StreamDecoderOptions {
  /** Include the text of control and unknown tokens (e.g. "<|im_end|>"). Default false. */
  showSpecial?: boolean;
}

export class StreamDecoder {
  private readonly showSpecial: boolean;
  // WHATWG streaming UTF-8 decoding holds exactly the bytes of an unfinished character between calls
  private decoder = new TextDecoder('utf-8', { ignoreBOM: true });

  constructor(
    private readonly tokenizer: Pick<Tokenizer, 'tokenToBytes' | 'isSpecial'>,
    opts: StreamDecoderOptions = {},
  ) {
    this.showSpecial = opts.showSpecial ?? false;
  }

  /** Text completed by this token ('' while a character is still incomplete). */
  push(id: number): string {
    if (!this.showSpecial && this.tokenizer.isSpecial(id)) return '';
    return this.decoder.decode(this.tokenizer.tokenToBytes(id), { stream: true });
  }

  /** Text of any bytes still held (U+FFFD for an incomplete character); the decoder starts afresh. */
  flush(): string {
    const rest = this.decoder.decode();
    this.decoder = new TextDecoder('utf-8', { ignoreBOM: true });
    return rest;
  }
}
