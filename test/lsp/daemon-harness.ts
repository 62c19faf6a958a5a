/**
 * Starts the real daemon (`node --import tsx daemon/main.ts --stdio`, or the bundle with
 * MOECODE_LSP_DAEMON=dist) and speaks to it as a plain JSON-RPC client would. Settings answer
 * `workspace/configuration` from `client.settings`, which a test may change before sending
 * `workspace/didChangeConfiguration`.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DebugStateResult, MoecodeSettingsInput, StatusParams } from '../../daemon/protocol.js';
import { JsonRpcClient, type RpcResponse } from './json-rpc-client.js';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The generated model the LSP tests use: Mixtral-layout llama, tiny, F32 (varied greedy text, FIM and ChatML tokens). */
export const TEST_MODEL_SPEC = { arch: 'llama', preset: 'tiny', weightType: 'F32' } as const;

export interface StartOptions {
  env?: NodeJS.ProcessEnv;
  initializationOptions?: unknown;
  /** Answer workspace/configuration (default true). */
  configuration?: boolean;
  settings?: MoecodeSettingsInput;
  /** Send initialize + initialized (default true). */
  initialize?: boolean;
}

export class DaemonClient extends JsonRpcClient {
  settings: MoecodeSettingsInput = {};
  readonly configRequests: unknown[] = [];

  async status(): Promise<StatusParams> {
    return this.call<StatusParams>('moecode/status/get');
  }

  async debugState(waitForIdle = false): Promise<DebugStateResult> {
    return this.call<DebugStateResult>('moecode/debug/state', { waitForIdle });
  }

  /** Waits for a status notification with one of `states` sent after notification index `since`. */
  async waitForState(states: StatusParams['state'][], timeoutMs = 120_000, since = 0): Promise<StatusParams> {
    const n = await this.waitForNotification('moecode/status/didChange', (p: StatusParams) => states.includes(p.state), timeoutMs, since);
    return n.params as StatusParams;
  }

  open(uri: string, text: string, languageId = 'typescript', version = 1): void {
    this.notify('textDocument/didOpen', { textDocument: { uri, languageId, version, text } });
  }

  close(uri: string): void {
    this.notify('textDocument/didClose', { textDocument: { uri } });
  }

  /** Full-text change. */
  change(uri: string, version: number, text: string): void {
    this.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ text }] });
  }

  /** Incremental insert at a position. */
  insert(uri: string, version: number, line: number, character: number, text: string): void {
    const at = { line, character };
    this.notify('textDocument/didChange', { textDocument: { uri, version }, contentChanges: [{ range: { start: at, end: at }, text }] });
  }

  inline(uri: string, line: number, character: number, extra: Record<string, unknown> = {}): { id: number; response: Promise<RpcResponse> } {
    return this.request('textDocument/inlineCompletion', {
      textDocument: { uri },
      position: { line, character },
      context: { triggerKind: 2, ...extra },
    });
  }

  async shutdownAndExit(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode !== null) return this.exited;
    await this.request('shutdown').response;
    this.notify('exit');
    return this.exited;
  }
}

export function daemonCommand(): { command: string; args: string[] } {
  if (process.env.MOECODE_LSP_DAEMON === 'dist') {
    const bin = join(REPO, 'bin', 'moecode-daemon.js');
    if (!existsSync(join(REPO, 'dist', 'daemon.js'))) throw new Error('dist/daemon.js is missing: run npm run build');
    return { command: process.execPath, args: [bin, '--stdio'] };
  }
  return { command: process.execPath, args: ['--import', 'tsx', join(REPO, 'daemon', 'main.ts'), '--stdio'] };
}

export async function startDaemon(opts: StartOptions = {}): Promise<DaemonClient> {
  const { command, args } = daemonCommand();
  const { spawn } = await import('node:child_process');
  const child = spawn(command, args, { cwd: REPO, env: { ...process.env, MOECODE_MODEL: '', ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
  const client = new DaemonClient(child);
  client.settings = opts.settings ?? {};
  if (opts.configuration !== false) {
    client.onServerRequest('workspace/configuration', (params) => {
      client.configRequests.push(params);
      const items = (params as { items: { section?: string }[] }).items;
      return items.map((it) => (it.section === 'moecode' ? client.settings : null));
    });
  }
  if (opts.initialize !== false) {
    await client.call('initialize', {
      processId: process.pid,
      rootUri: null,
      capabilities: {
        workspace: { configuration: opts.configuration !== false, didChangeConfiguration: { dynamicRegistration: true } },
        textDocument: { inlineCompletion: { dynamicRegistration: false } },
      },
      initializationOptions: opts.initializationOptions,
    });
    client.notify('initialized', {});
  }
  return client;
}

/** Greedy, short, fast: settings for tests that compare with the engine's own greedy output. */
export const GREEDY_SETTINGS: MoecodeSettingsInput = {
  completion: { maxTokens: 16, temperature: 0 },
  chat: { maxTokens: 24, temperature: 0 },
};

export { modelUnavailable, webgpuUnavailable } from '../helpers/backend-available.js';
