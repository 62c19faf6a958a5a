/**
 * The remote API key sealed for its trip over LSP. VS Code writes every notification's params to the
 * output channel when `moecode.trace.server` is `verbose`, and people paste those logs into bug reports:
 * so the extension sends the key sealed (AES-256-GCM) with a secret it put in the daemon's environment
 * (MOECODE_KEY_SEAL, random per extension session, never sent over LSP), and a trace shows only ciphertext.
 * Other editors may keep sending the plain `apiKey`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export const KEY_SEAL_ENV = 'MOECODE_KEY_SEAL';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SECRET_BYTES = 32;
/** Longest sealed key accepted (base64 characters): real keys are well under 1 kB. */
export const MAX_SEALED_CHARS = 16 * 1024;

export class KeySealError extends Error {
  override name = 'KeySealError';
}

/** A new per-process secret, as put in the daemon's environment. */
export function newSealSecret(): string {
  return randomBytes(SECRET_BYTES).toString('base64');
}

function secretBytes(secret: string): Buffer {
  const b = Buffer.from(secret, 'base64');
  if (b.length !== SECRET_BYTES) throw new KeySealError(`${KEY_SEAL_ENV} is not ${SECRET_BYTES} bytes of base64`);
  return b;
}

/** base64(iv | tag | ciphertext) of `key` under `secret`. */
export function sealApiKey(key: string, secret: string): string {
  const iv = randomBytes(IV_BYTES);
  const c = createCipheriv('aes-256-gcm', secretBytes(secret), iv);
  const body = Buffer.concat([c.update(key, 'utf8'), c.final()]);
  return Buffer.concat([iv, c.getAuthTag(), body]).toString('base64');
}

/** The key sealed by sealApiKey with the same secret; a KeySealError for anything else. */
export function unsealApiKey(sealed: string, secret: string): string {
  if (sealed.length > MAX_SEALED_CHARS) throw new KeySealError(`the sealed key is longer than ${MAX_SEALED_CHARS} characters`);
  const b = Buffer.from(sealed, 'base64');
  if (b.length < IV_BYTES + TAG_BYTES) throw new KeySealError('the sealed key is too short');
  const d = createDecipheriv('aes-256-gcm', secretBytes(secret), b.subarray(0, IV_BYTES));
  d.setAuthTag(b.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  try {
    return Buffer.concat([d.update(b.subarray(IV_BYTES + TAG_BYTES)), d.final()]).toString('utf8');
  } catch {
    throw new KeySealError('the sealed key does not open with this daemon\'s secret (sealed for another daemon process, or altered)');
  }
}
