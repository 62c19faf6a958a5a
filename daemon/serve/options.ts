/** `moecode serve` flags as ServeOptions: `--host`, `--port`, `--api-key` (or MOECODE_API_KEY), `--max-queue`, `--max-body-mb`. */
import { numberFlag, stringFlag, UsageError, type ParsedArgs } from '../cli/args.js';
import { DEFAULT_MAX_BODY_BYTES } from './body.js';
import type { ServeOptions } from './context.js';
import type { EngineFlags } from '../cli/engine-flags.js';

export const SERVE_VALUE_FLAGS = ['host', 'port', 'api-key', 'max-queue', 'max-body-mb'];
export const DEFAULT_HOST = '127.0.0.1';
/** llama-server's port in llama.vscode's default endpoint. */
export const DEFAULT_PORT = 8012;
export const DEFAULT_MAX_QUEUE = 8;

export function serveOptions(args: ParsedArgs, modelPath: string, engine: EngineFlags, env: NodeJS.ProcessEnv = process.env): ServeOptions {
  if (args.positional.length > 1) throw new UsageError(`serve takes one model file, got ${args.positional.length} arguments`);
  const host = stringFlag(args, 'host') ?? DEFAULT_HOST;
  if (host.trim() === '') throw new UsageError('--host needs an address');
  // trimmed as the Authorization header's token is, so a key read from a file with a newline still matches
  const apiKey = (stringFlag(args, 'api-key') ?? (env.MOECODE_API_KEY || undefined))?.trim();
  if (apiKey !== undefined && apiKey === '') throw new UsageError('--api-key needs a key');
  const maxBodyMb = numberFlag(args, 'max-body-mb', DEFAULT_MAX_BODY_BYTES / (1024 * 1024), (v) => v >= 1 / 1024 && v <= 1024);
  return {
    modelPath,
    host,
    port: numberFlag(args, 'port', DEFAULT_PORT, (v) => Number.isInteger(v) && v >= 0 && v <= 65535),
    apiKey,
    maxQueue: numberFlag(args, 'max-queue', DEFAULT_MAX_QUEUE, (v) => Number.isInteger(v) && v >= 1 && v <= 10_000),
    maxBodyBytes: Math.floor(maxBodyMb * 1024 * 1024),
    ...engine,
  };
}
