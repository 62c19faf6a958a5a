/**
 * MoeCode's language server: `moecode-daemon --stdio` (or `--node-ipc`, `--socket=PORT`,
 * `--pipe=NAME`, as vscode-languageserver reads them from argv). Standard LSP plus the custom messages
 * of protocol.ts; see server.ts for the wiring.
 */
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { createServer, SERVER_NAME, SERVER_VERSION } from './server.js';

const USAGE = `usage: moecode-daemon --stdio | --node-ipc | --socket=PORT | --pipe=NAME

The MoeCode language server (LSP 3.18: textDocument/inlineCompletion, plus moecode/* chat, explain,
status and model messages). The model is the moecode.model.path setting (initializationOptions or
workspace/configuration), else the MOECODE_MODEL environment variable, else the default model. With the
moecode.remote.url setting an OpenAI-compatible server generates instead (its key: MOECODE_REMOTE_API_KEY).`;

const TRANSPORTS = ['--stdio', '--node-ipc', '--socket', '--pipe'];

export function main(argv: string[] = process.argv.slice(2)): number | undefined {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stderr.write(`${USAGE}\n`);
    return 0;
  }
  if (argv.includes('--version')) {
    process.stderr.write(`${SERVER_NAME} ${SERVER_VERSION}\n`);
    return 0;
  }
  if (!argv.some((a) => TRANSPORTS.some((t) => a === t || a.startsWith(`${t}=`)))) {
    process.stderr.write(`moecode-daemon: choose a transport\n${USAGE}\n`);
    return 2;
  }
  // vscode-languageserver reads the transport from process.argv
  const connection = createConnection(ProposedFeatures.all);
  // no request or stray callback may take the daemon down: log and carry on
  process.on('uncaughtException', (e) => connection.console.error(`uncaught exception: ${e.stack ?? e.message}`));
  process.on('unhandledRejection', (e) => connection.console.error(`unhandled rejection: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`));
  // Node warnings (e.g. WebGPU errors reported by the engine) go to stderr by default: route them to the client
  process.removeAllListeners('warning');
  process.on('warning', (w) => connection.console.warn(`${w.name}: ${w.message}`));
  createServer(connection);
  connection.listen();
  return undefined;
}

if (require.main === module) {
  const code = main();
  if (code !== undefined) process.exit(code);
}
