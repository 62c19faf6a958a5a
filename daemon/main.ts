/**
 * MoeCode's language server: `moecode-daemon --stdio` (or `--node-ipc`, `--socket=PORT`,
 * `--pipe=NAME`). Standard LSP plus the custom messages of protocol.ts; see server.ts for the wiring
 * and transport/ for how bad input on the connection is answered.
 */
import { format } from 'node:util';
import { createConnection, ProposedFeatures, type Connection } from 'vscode-languageserver/node';
import { exitAfterFlush } from './cli/exit-after-flush.js';
import { LOAD_STALL_ENV } from './features/load-watchdog.js';
import { createServer, SERVER_NAME, SERVER_VERSION } from './server.js';
import { openTransport, transportFromArgv } from './transport/transport.js';

export { exitAfterFlush } from './cli/exit-after-flush.js';

const USAGE = `usage: moecode-daemon --stdio | --node-ipc | --socket=PORT | --pipe=NAME

The MoeCode language server (LSP 3.18: textDocument/inlineCompletion, plus moecode/* chat, explain,
status and model messages). The model is the moecode.model.path setting (initializationOptions or
workspace/configuration), else the MOECODE_MODEL environment variable, else the default model. With the
moecode.remote.url setting an OpenAI-compatible server generates instead (its key: MOECODE_REMOTE_API_KEY).
A model load that makes no progress for ${LOAD_STALL_ENV} milliseconds (default 120000) is given up.
A stream that can no longer be split into messages (a bad Content-Length) ends the daemon with exit
code 1; the client restarts it.`;

/** Exit code after a framing error: the stream cannot be trusted any more. */
export const EXIT_FRAMING_ERROR = 1;
/** At most this long waiting for the last log lines to drain before exiting on a framing error. */
const FRAMING_EXIT_FLUSH_MS = 2000;

export function main(argv: string[] = process.argv.slice(2)): number | undefined {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  if (argv.includes('--version')) {
    process.stderr.write(`${SERVER_NAME} ${SERVER_VERSION}\n`);
    return 0;
  }
  const spec = transportFromArgv(argv);
  if (!spec) {
    process.stderr.write(`moecode-daemon: choose a transport\n${USAGE}\n`);
    return 2;
  }
  let connection: Connection | undefined;
  const transport = openTransport(
    spec,
    (m) => connection?.console.warn(m),
    (e) => {
      const line = `moecode-daemon: the connection's byte stream is broken (${e.message}); exiting so the client can restart the daemon`;
      process.stderr.write(`${line}\n`);
      connection?.console.error(line);
      exitAfterFlush(EXIT_FRAMING_ERROR, FRAMING_EXIT_FLUSH_MS);
    },
  );
  connection = createConnection(ProposedFeatures.all, transport.reader, transport.writer);
  // the input closed without `exit`: as vscode-languageserver does for stdio, 0 after shutdown, else 1
  transport.reader.onClose(() => exitAfterFlush(transport.guard.shutdownRequested ? 0 : 1, FRAMING_EXIT_FLUSH_MS));
  const conn = connection;
  if (transport.kind === 'stdio') routeConsoleTo(conn);
  // no request or stray callback may take the daemon down: log and carry on
  process.on('uncaughtException', (e) => conn.console.error(`uncaught exception: ${e.stack ?? e.message}`));
  process.on('unhandledRejection', (e) => conn.console.error(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
  // Node warnings (e.g. WebGPU errors reported by the engine) go to stderr by default: route them to the client
  process.removeAllListeners('warning');
  process.on('warning', (w) => conn.console.warn(`${w.name}: ${w.message}`));
  createServer(conn);
  conn.listen();
  return undefined;
}

/** With stdio, stdout is the protocol: console output goes to the client's log instead. */
function routeConsoleTo(connection: Connection): void {
  console.log = (...args: unknown[]) => connection.console.log(format(...args));
  console.info = (...args: unknown[]) => connection.console.info(format(...args));
  console.debug = (...args: unknown[]) => connection.console.log(format(...args));
  console.warn = (...args: unknown[]) => connection.console.warn(format(...args));
  console.error = (...args: unknown[]) => connection.console.error(format(...args));
}

if (require.main === module) {
  const code = main();
  if (code !== undefined) exitAfterFlush(code);
}
