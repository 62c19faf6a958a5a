/**
 * `--api-key`: every request but GET /health must carry `Authorization: Bearer KEY`. Both sides are
 * hashed before comparing, so the comparison takes the same time whatever the key's length or how much
 * of it a caller guessed.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { HttpError } from './errors.js';

/** The token of an `Authorization: Bearer TOKEN` header, if it has that form. */
export function bearerToken(authorization: string | undefined): string | undefined {
  const m = /^Bearer[ \t]+(\S.*)$/i.exec(authorization ?? '');
  return m ? m[1]!.trim() : undefined;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** A check of the Authorization header against `key`; throws a 401 HttpError when it does not match. */
export function apiKeyCheck(key: string): (authorization: string | undefined) => void {
  const want = digest(key);
  return (authorization) => {
    const token = bearerToken(authorization);
    const matches = timingSafeEqual(digest(token ?? ''), want);
    if (token === undefined || !matches) {
      const message = token === undefined ? 'this server needs an API key: send "Authorization: Bearer KEY"' : 'the API key is not valid';
      throw new HttpError(401, message, 'authentication_error', 'invalid_api_key', null, { 'WWW-Authenticate': 'Bearer' });
    }
  };
}
