/** The `moecode.remote.url` setting as a base URL requests are made under. */
import { RemoteConfigError } from './errors.js';

/**
 * `http://gpu-box:30000/v1/` → `http://gpu-box:30000/v1`; a URL with no path gets `/v1`
 * (`http://localhost:11434` → `http://localhost:11434/v1`). Only http and https; no user:password
 * (the key goes in MOECODE_REMOTE_API_KEY or the editor's secret store, never in a setting).
 */
export function normalizeBaseUrl(raw: string): string {
  let u: URL;
  try {
    u = new URL(raw.trim());
  } catch {
    throw new RemoteConfigError(`moecode.remote.url "${raw}" is not a URL (example: http://gpu-box:30000/v1)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new RemoteConfigError(`moecode.remote.url "${raw}" must start with http:// or https://`);
  if (u.username || u.password) throw new RemoteConfigError('moecode.remote.url must not hold a user or password: put the API key in MOECODE_REMOTE_API_KEY (VS Code: "MoeCode: Set Remote API Key…")');
  u.hash = '';
  let path = u.pathname.replace(/\/+$/, '');
  if (path === '') path = '/v1';
  return `${u.origin}${path}${u.search}`;
}
