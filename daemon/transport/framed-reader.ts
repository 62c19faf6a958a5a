/**
 * LSP's base protocol on a byte stream (stdio, a socket, a pipe): `Content-Length: N\r\n` headers, an
 * empty line, N bytes of UTF-8 JSON. Strict where vscode-jsonrpc's reader is lenient, and with typed
 * errors so the daemon can tell the two kinds of bad input apart:
 *  - FramingError: the stream can no longer be split into messages (no or a malformed Content-Length, a
 *    length beyond the limit, a header block that never ends). Nothing after it can be trusted, so the
 *    reader stops and the daemon exits for the client to restart it, instead of staying alive but deaf.
 *  - MessageParseError: one message's body is not JSON (or not UTF-8). The frame was intact, so the
 *    daemon answers JSON-RPC's Parse error (-32700, id null) and reads on.
 */
import { AbstractMessageReader, Disposable, type DataCallback, type Message, type MessageReader } from 'vscode-languageserver/node';

export class FramingError extends Error {
  override readonly name = 'FramingError';
}

export class MessageParseError extends Error {
  override readonly name = 'MessageParseError';
}

export interface FramedReaderLimits {
  /** Largest header block (all header lines), bytes. */
  maxHeaderBytes: number;
  /** Largest message body, bytes (a didOpen of a big file is the largest legitimate message). */
  maxContentLength: number;
}

export const DEFAULT_FRAMED_READER_LIMITS: FramedReaderLimits = {
  maxHeaderBytes: 8 * 1024,
  maxContentLength: 256 * 1024 * 1024,
};

const HEADER_END = Buffer.from('\r\n\r\n', 'latin1');

export class FramedMessageReader extends AbstractMessageReader implements MessageReader {
  /** Bytes received and not yet consumed, as received (concatenated only when a whole frame is in). */
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Body length of the frame being read, once its header is parsed. */
  private bodyLength = -1;
  private broken = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly input: NodeJS.ReadableStream,
    /** A body that is not JSON: the frame is skipped and reading goes on. */
    private readonly onParseError: (e: MessageParseError) => void,
    private readonly limits: FramedReaderLimits = DEFAULT_FRAMED_READER_LIMITS,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const onData = (chunk: Buffer | string) => this.onData(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk, callback);
    const onError = (e: Error) => this.fireError(e);
    const onEnd = () => this.fireClose();
    this.input.on('data', onData);
    this.input.on('error', onError);
    this.input.on('end', onEnd);
    this.input.on('close', onEnd);
    return Disposable.create(() => {
      this.input.off('data', onData);
      this.input.off('error', onError);
      this.input.off('end', onEnd);
      this.input.off('close', onEnd);
    });
  }

  private onData(chunk: Buffer, callback: DataCallback): void {
    if (this.broken) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    try {
      while (this.nextMessage(callback));
    } catch (e) {
      if (!(e instanceof FramingError)) throw e;
      this.broken = true;
      this.chunks = [];
      this.buffered = 0;
      this.fireError(e);
    }
  }

  /** Consumes one frame if a whole one is buffered; false when more bytes are needed. */
  private nextMessage(callback: DataCallback): boolean {
    if (this.bodyLength < 0) {
      const all = this.joined();
      const end = all.indexOf(HEADER_END);
      if (end < 0) {
        if (all.length > this.limits.maxHeaderBytes) throw new FramingError(`no end of the header block within ${this.limits.maxHeaderBytes} bytes`);
        return false;
      }
      if (end > this.limits.maxHeaderBytes) throw new FramingError(`a header block of ${end} bytes (the limit is ${this.limits.maxHeaderBytes})`);
      this.bodyLength = this.parseHeaders(all.subarray(0, end).toString('latin1'));
      this.consume(end + HEADER_END.length);
    }
    if (this.buffered < this.bodyLength) return false;
    const all = this.joined();
    const body = all.subarray(0, this.bodyLength);
    this.consume(this.bodyLength);
    this.bodyLength = -1;
    let message: unknown;
    try {
      message = JSON.parse(this.decoder.decode(body));
    } catch (e) {
      this.onParseError(new MessageParseError(`the message body is not ${e instanceof SyntaxError ? 'valid JSON' : 'valid UTF-8'}: ${(e as Error).message.slice(0, 200)}`));
      return true;
    }
    callback(message as Message);
    return true;
  }

  /** The Content-Length of a header block; FramingError when it is missing or malformed. */
  private parseHeaders(block: string): number {
    let length: number | undefined;
    for (const line of block.split('\r\n')) {
      const colon = line.indexOf(':');
      if (colon <= 0) throw new FramingError(`a header line without a name: ${JSON.stringify(line.slice(0, 80))}`);
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      if (name === 'content-length') {
        if (!/^\d{1,15}$/.test(value)) throw new FramingError(`Content-Length ${JSON.stringify(value.slice(0, 40))} is not a byte count`);
        length = Number(value);
        if (length > this.limits.maxContentLength) throw new FramingError(`Content-Length ${length} exceeds the limit of ${this.limits.maxContentLength} bytes`);
      } else if (name === 'content-type') {
        const charset = /charset\s*=\s*"?([^";\s]+)/i.exec(value)?.[1]?.toLowerCase();
        if (charset && charset !== 'utf-8' && charset !== 'utf8') throw new FramingError(`charset ${JSON.stringify(charset.slice(0, 40))} is not supported (only utf-8)`);
      }
    }
    if (length === undefined) throw new FramingError('a header block without Content-Length');
    return length;
  }

  private joined(): Buffer {
    if (this.chunks.length > 1) this.chunks = [Buffer.concat(this.chunks, this.buffered)];
    return this.chunks[0] ?? Buffer.alloc(0);
  }

  private consume(n: number): void {
    const rest = this.joined().subarray(n);
    this.chunks = rest.length ? [rest] : [];
    this.buffered = rest.length;
  }
}
