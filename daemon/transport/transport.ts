/**
 * The daemon's end of the connection, chosen from argv as vscode-languageserver chooses it (`--stdio`,
 * `--node-ipc`, `--socket=PORT`, `--pipe=NAME`), but built here so that every byte stream goes through
 * FramedMessageReader and every transport through MessageGuard (see those files for why).
 */
import { createConnection as createSocket } from 'node:net';
import { IPCMessageReader, IPCMessageWriter, SocketMessageWriter, StreamMessageWriter, type MessageReader, type MessageWriter } from 'vscode-languageserver/node';
import { FramedMessageReader, FramingError } from './framed-reader.js';
import { MessageGuard } from './message-guard.js';

export type TransportKind = 'stdio' | 'node-ipc' | 'socket' | 'pipe';

export interface Transport {
  kind: TransportKind;
  reader: MessageReader;
  writer: MessageWriter;
  guard: MessageGuard;
}

/** The transport argv names, or undefined when it names none. */
export function transportFromArgv(argv: readonly string[]): { kind: TransportKind; target?: string } | undefined {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--stdio') return { kind: 'stdio' };
    if (a === '--node-ipc') return { kind: 'node-ipc' };
    for (const kind of ['socket', 'pipe'] as const) {
      if (a === `--${kind}` && i + 1 < argv.length) return { kind, target: argv[i + 1] };
      if (a.startsWith(`--${kind}=`)) return { kind, target: a.slice(kind.length + 3) };
    }
  }
  return undefined;
}

/**
 * Opens the transport. `log` gets what the guard answered on its own; `onFramingError` gets a stream
 * that can no longer be read (the daemon should exit).
 */
export function openTransport(
  spec: { kind: TransportKind; target?: string },
  log: (message: string) => void,
  onFramingError: (e: FramingError) => void,
): Transport {
  let raw: { input?: NodeJS.ReadableStream; reader?: MessageReader; writer: MessageWriter };
  switch (spec.kind) {
    case 'stdio':
      raw = { input: process.stdin, writer: new StreamMessageWriter(process.stdout) };
      break;
    case 'node-ipc':
      raw = { reader: new IPCMessageReader(process), writer: new IPCMessageWriter(process) };
      break;
    case 'socket':
    case 'pipe': {
      const port = Number(spec.target);
      if (spec.kind === 'socket' && !(Number.isInteger(port) && port > 0 && port < 65536)) throw new RangeError(`--socket: ${spec.target} is not a port`);
      const socket = spec.kind === 'socket' ? createSocket(port, '127.0.0.1') : createSocket(spec.target ?? '');
      raw = { input: socket, writer: new SocketMessageWriter(socket) };
      break;
    }
  }
  const guard = new MessageGuard(raw.writer, log);
  const inner = raw.reader ?? new FramedMessageReader(raw.input!, (e) => guard.parseError(e));
  inner.onError((e) => {
    if (e instanceof FramingError) onFramingError(e);
  });
  return { kind: spec.kind, reader: guard.wrap(inner), writer: raw.writer, guard };
}
