/**
 * `moecode serve`: an OpenAI-compatible HTTP server on the daemon's engine, built from the same pieces
 * as the LSP daemon (model manager, scheduler, prompt builders). It listens at once and prints
 * `listening on http://HOST:PORT` on stdout (the only line stdout gets), then loads the model: /health
 * says 503 until it is loaded. A model that fails to load ends the server (exit code 1). SIGINT and
 * SIGTERM close it (exit code 0). Logs go to stderr.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename } from 'node:path';
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
  let model: ModelManager | undefined;
  const scheduler = new Scheduler({
    limits: { completion: options.maxQueue, chat: options.maxQueue },
    onBusyChange: (busy) => model?.setBusy(busy),
    onFinished: (outcome) => model?.recordSpeeds(outcome),
    log,
  });
  model = new ModelManager({ scheduler, log, warn: log, onStatus: () => undefined });
  const ctx: ServeContext = { options, model, scheduler, modelId: basename(options.modelPath).replace(/\.gguf$/i, ''), startedAt: unixSeconds(), log };
  const checkKey = options.apiKey !== undefined ? apiKeyCheck(options.apiKey) : undefined;
  const server = createServer((req, res) => void route(ctx, checkKey, req, res));
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
      server.close();
      server.closeAllConnections();
      void model!.dispose().finally(() => resolve(code));
    };
    const onSignal = () => stop(0);
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const gpu = { ...DEFAULT_SETTINGS.gpu, memoryBudget: (options.gpuBudgetBytes ?? 0) / (1024 * 1024) };
    model!.load({ ...DEFAULT_SETTINGS, model: { path: options.modelPath }, engine: { backend: options.backend }, cpu: { threads: options.threads }, gpu }, options.modelPath).then(
      () => log(`serving ${ctx.modelId} on ${serveUrl(address)}`),
      (e: unknown) => {
        log(`moecode serve: ${e instanceof Error ? e.message : String(e)}`);
        stop(1);
      },
    );
  });
}
