/**
 * Composition root: builds the shared services (settings, model manager, generation backend, scheduler, lifecycle), the
 * features, merges their capabilities at `initialize`, and wires document closing and shutdown.
 * Everything logs through `window/logMessage`; stdout carries only the protocol.
 */
import { TextDocumentSyncKind, TextDocuments, type Connection, type InitializeResult, type ServerCapabilities } from 'vscode-languageserver/node';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { ChatFeature } from './features/chat.js';
import { CompletionFeature } from './features/completion.js';
import { DebugFeature } from './features/debug.js';
import { ExplainFeature } from './features/explain.js';
import type { Feature, Logger, ServerContext } from './features/feature.js';
import { GenerationBackend } from './features/generation-backend.js';
import { Lifecycle } from './features/lifecycle.js';
import { ModelFeature } from './features/model.js';
import { ModelManager } from './features/model-manager.js';
import { RemoteFeature } from './features/remote.js';
import { Settings } from './features/settings.js';
import { StatusFeature } from './features/status.js';
import { Scheduler } from './scheduler/scheduler.js';

export const SERVER_NAME = 'moecode-daemon';
export const SERVER_VERSION = '0.1.0';

export interface Server {
  readonly features: readonly Feature[];
}

export function createServer(connection: Connection): Server {
  const logger: Logger = {
    log: (m) => connection.console.log(m),
    info: (m) => connection.console.info(m),
    warn: (m) => connection.console.warn(m),
    error: (m) => connection.console.error(m),
  };
  const lifecycle = new Lifecycle((m) => logger.error(m));
  const documents = new TextDocuments(TextDocument);
  const settings = new Settings(connection, (m) => logger.warn(m));
  // the status feature exists before any status change can happen (the model loads after initialized)
  let status: StatusFeature | undefined;
  let features: Feature[] = [];
  const scheduler = new Scheduler({
    onBusyChange: (busy) => model.setBusy(busy),
    onFinished: (outcome) => model.recordSpeeds(outcome),
    log: (m) => logger.error(m),
  });
  const model: ModelManager = new ModelManager({
    scheduler,
    log: (m) => logger.info(m),
    warn: (m) => logger.warn(m),
    onStatus: (s, urgent) => backend.localStatusChanged(s, urgent),
    // the old engine answers during a load: caches go stale when another engine takes over
    onEngineChanged: () => {
      for (const f of features) f.modelChanged?.();
    },
  });
  const backend: GenerationBackend = new GenerationBackend({
    model,
    publish: (s, urgent) => status?.publish(s, urgent),
    backendChanged: () => features.forEach((f) => f.modelChanged?.()),
    log: (m) => logger.info(m),
  });
  const ctx: ServerContext = { connection, documents, settings, model, backend, scheduler, lifecycle, logger };

  status = new StatusFeature(ctx);
  const completion = new CompletionFeature(ctx);
  features = [
    status,
    completion,
    new ChatFeature(ctx),
    new ExplainFeature(ctx),
    new ModelFeature(ctx, () => features.forEach((f) => f.settingsChanged?.())),
    new DebugFeature(ctx, completion),
    new RemoteFeature(ctx),
  ];

  connection.onInitialize((params): InitializeResult => {
    settings.initialize(params.initializationOptions, Boolean(params.capabilities.workspace?.configuration));
    const capabilities: ServerCapabilities = {
      textDocumentSync: { openClose: true, change: TextDocumentSyncKind.Incremental },
    };
    for (const f of features) Object.assign(capabilities, f.initialize?.(params) ?? {});
    lifecycle.state = 'running';
    return { capabilities, serverInfo: { name: SERVER_NAME, version: SERVER_VERSION } };
  });

  connection.onInitialized(() => {
    for (const f of features) {
      Promise.resolve(f.initialized?.()).catch((e) => logger.error(`${f.name}: initialized failed: ${(e as Error).message}`));
    }
  });

  documents.onDidClose((e) => {
    const uri = e.document.uri;
    for (const f of features) f.documentClosed?.(uri);
    scheduler.forgetOwner(uri);
    settings.forget(uri);
  });

  connection.onShutdown(async () => {
    lifecycle.state = 'shutdown';
    for (const f of [...features].reverse()) {
      try {
        await f.shutdown?.();
      } catch (e) {
        logger.error(`${f.name}: shutdown failed: ${(e as Error).message}`);
      }
    }
  });

  documents.listen(connection);
  return { features };
}
