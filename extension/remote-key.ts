/**
 * The remote server's API key, kept in VS Code's SecretStorage (the OS keychain), never in settings.json.
 * The daemon gets it (else VS Code's own MOECODE_REMOTE_API_KEY) in its environment at start, as any
 * other editor passes it, and by `moecode/remote/didChangeApiKey` when it changes (client.ts).
 */
import type * as vscode from 'vscode';

export const REMOTE_API_KEY_SECRET = 'moecode.remote.apiKey';
/** Longest key accepted (real keys are well under 1 kB). */
export const MAX_API_KEY_CHARS = 4096;

/** Why `key` cannot be sent as a Bearer token, or undefined when it can. */
export function invalidApiKey(key: string): string | undefined {
  if (key.length > MAX_API_KEY_CHARS) return `the key is longer than ${MAX_API_KEY_CHARS} characters`;
  // an HTTP header value: visible ASCII only (no spaces, no line breaks)
  if (!/^[\x21-\x7e]+$/.test(key)) return 'the key may only hold visible ASCII characters (no spaces or line breaks)';
  return undefined;
}

export class RemoteApiKey {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  async get(): Promise<string | undefined> {
    return (await this.secrets.get(REMOTE_API_KEY_SECRET)) || undefined;
  }

  /** Stores the key; undefined or '' deletes it. */
  async set(key: string | undefined): Promise<void> {
    if (key) await this.secrets.store(REMOTE_API_KEY_SECRET, key);
    else await this.secrets.delete(REMOTE_API_KEY_SECRET);
  }

  /** Fires when the key changes (in this window or another). */
  onDidChange(listener: () => void): vscode.Disposable {
    return this.secrets.onDidChange((e) => {
      if (e.key === REMOTE_API_KEY_SECRET) listener();
    });
  }
}
