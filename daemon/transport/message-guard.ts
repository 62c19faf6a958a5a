/**
 * What JSON-RPC and LSP say about bad messages, answered before vscode-languageserver sees them:
 *  - a body that is not JSON: Parse error (-32700) with id null, then reading goes on;
 *  - JSON that is not a message object (a number, an array: LSP has no batches): Invalid Request
 *    (-32600) with id null;
 *  - a second `initialize`: Invalid Request. (Passed on, it would reach the library's initialize
 *    handling, which re-reads the client's capabilities and watches the new processId: a second
 *    initialize naming a dead process would make the daemon exit three seconds later.)
 * It also remembers whether `shutdown` was requested, which decides the exit code when the input
 * closes (0 after shutdown, 1 otherwise, as vscode-languageserver does for stdio).
 */
import { Disposable, ErrorCodes, type DataCallback, type Message, type MessageReader, type MessageWriter, type ResponseMessage } from 'vscode-languageserver/node';
import type { MessageParseError } from './framed-reader.js';

export class MessageGuard {
  private initializeSeen = false;
  shutdownRequested = false;

  constructor(
    private readonly writer: MessageWriter,
    private readonly log: (message: string) => void,
  ) {}

  /** `reader` with the bad messages answered here and the rest passed on. */
  wrap(reader: MessageReader): MessageReader {
    return {
      onError: reader.onError,
      onClose: reader.onClose,
      onPartialMessage: reader.onPartialMessage,
      dispose: () => reader.dispose(),
      listen: (callback: DataCallback): Disposable => reader.listen((m) => this.filter(m, callback)),
    };
  }

  /** A frame whose body was not JSON (from FramedMessageReader). */
  parseError(e: MessageParseError): void {
    this.log(`a message that is not JSON was answered with Parse error: ${e.message}`);
    this.reply(null, ErrorCodes.ParseError, `Parse error: ${e.message}`);
  }

  private filter(message: unknown, next: DataCallback): void {
    if (typeof message !== 'object' || message === null || Array.isArray(message)) {
      this.log('a message that is not a JSON object was answered with Invalid Request');
      this.reply(null, ErrorCodes.InvalidRequest, 'Invalid Request: a message must be a JSON object (batches are not part of LSP)');
      return;
    }
    const m = message as { id?: unknown; method?: unknown };
    const isRequest = typeof m.method === 'string' && (typeof m.id === 'number' || typeof m.id === 'string');
    if (isRequest && m.method === 'initialize') {
      if (this.initializeSeen) {
        this.reply(m.id as number | string, ErrorCodes.InvalidRequest, 'initialize was already sent: a server is initialized once');
        return;
      }
      this.initializeSeen = true;
    }
    if (isRequest && m.method === 'shutdown') this.shutdownRequested = true;
    next(message as Message);
  }

  private reply(id: number | string | null, code: number, message: string): void {
    const response: ResponseMessage = { jsonrpc: '2.0', id, error: { code, message } };
    this.writer.write(response).catch((e: unknown) => this.log(`could not answer a bad message: ${String(e)}`));
  }
}
