/**
 * `moecode serve`: an OpenAI-compatible HTTP server on the daemon's engine, built from the same pieces
 * as the LSP daemon (model manager, scheduler, prompt builders). It listens at once and prints
 * `listening on http://HOST:PORT` on stdout (the only line stdout gets), then loads the model: /health
 * says 503 until it is loaded. A model that fails to load ends the server (exit code 1). SIGINT and
 * SIGTERM close it (exit code 0). Logs go to stderr: one line per request (method, path, status,
 * milliseconds), and any stray exception, which is logged rather than let take the server down.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
import { BUDGET_FLAG } from '../cli/engine-flags.js';
import { ModelManager } from '../features/model-manager.js';
import { DEFAULT_SETTINGS } from '../protocol.js';
import { Scheduler } from '../scheduler/scheduler.js';
import { apiKeyCheck } from './auth.js';
import type { ServeContext, ServeOptions } from './context.js';
import { unixSeconds } from './generation.js';
import { route } from './router.js';

/** Most milliseconds a client may take to send one request (headers and body). */
const REQUEST_TIMEOUT_MS = 60_000;

function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException) => {
      const why = e.code === 'EADDRINUSE' ? `port ${port} on ${host} is already in use` : e.code === 'EADDRNOTAVAIL' ? `${host} is not an address of this machine` : e.message;
      reject(new Error(`cannot listen on ${host}:${port}: ${why}`));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

export function serveUrl(address: AddressInfo): string {
  const host = address.family === 'IPv6' || address.address.includes(':') ? `[${address.address}]` : address.address;
  return `http://${host}:${address.port}`;
}

/** Runs the server until a signal or a failed model load; resolves with the exit code. */
export async function serve(options: ServeOptions): Promise<number> {
  const log = (m: string) => process.stderr.write(`${m}\n`);
  const scheduler = new Scheduler({
    limits: { completion: options.maxQueue, chat: options.maxQueue },
    onBusyChange: (busy) => model.setBusy(busy),
    onFinished: (outcome) => model.recordSpeeds(outcome),
    log,
  });
  const model: ModelManager = new ModelManager({ scheduler, log, warn: log, onStatus: () => undefined, budgetKnob: BUDGET_FLAG });
  const ctx: ServeContext = { options, model, scheduler, modelId: basename(options.modelPath).replace(/\.gguf$/i, ''), startedAt: unixSeconds(), log };
  const checkKey = options.apiKey !== undefined ? apiKeyCheck(options.apiKey) : undefined;
  const server = createServer((req, res) => {
    const t0 = performance.now();
    res.on('close', () => log(`${req.method} ${req.url} ${res.headersSent ? res.statusCode : '-'}${res.writableFinished ? '' : ' (client gone)'} ${Math.round(performance.now() - t0)} ms`));
    void route(ctx, checkKey, req, res);
  });
  server.requestTimeout = REQUEST_TIMEOUT_MS;
  const address = await listen(server, options.port, options.host);
  process.stdout.write(`listening on ${serveUrl(address)}\n`);

  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (code: number) => {
      if (stopping) return;
      stopping = true;
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('uncaughtException', onUncaught);
      process.off('unhandledRejection', onUncaught);
      // no new connections; requests in flight get their answer (503: the model is going away), then every connection closes
      server.close();
      void model.dispose().finally(() => {
        server.closeAllConnections();
        resolve(code);
      });
    };
    const onSignal = () => stop(0);
    const onUncaught = (e: unknown) => log(`uncaught: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    const settings = {
      ...DEFAULT_SETTINGS,
      model: { path: options.modelPath },
      engine: { backend: options.backend, kvCacheType: options.kvType, contextLength: options.contextLength },
      cpu: { threads: options.threads },
      gpu: { ...DEFAULT_SETTINGS.gpu, memoryBudget: options.memoryBudget / (1024 * 1024) },
    };
    model.load(settings, options.modelPath).then(
      () => {
        if (!stopping) log(`serving ${ctx.modelId} on ${serveUrl(address)}`);
      },
      (e: unknown) => {
        log(`moecode serve: ${e instanceof Error ? e.message : String(e)}`);
        stop(1);
      },
    );
  });
}
