/**
 * Request bodies: JSON objects of at most `limit` bytes. A body over the limit is refused with 413 as
 * soon as its Content-Length (or its bytes so far) say so; the rest is read and dropped by Node so the
 * client still sees the answer (the server's requestTimeout bounds that). Content types a browser may
 * send to another origin without asking first (form posts, text/plain) are refused with 415, so a web
 * page cannot make the local server generate.
 */
import type { IncomingMessage } from 'node:http';
import { badRequest, HttpError } from './errors.js';
import { isObject } from './validate.js';

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

const BROWSER_SIMPLE_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `the request body is larger than ${limit} bytes`, 'invalid_request_error', 'request_too_large');
}

export function readJsonBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (BROWSER_SIMPLE_TYPES.has(type)) {
    return Promise.reject(new HttpError(415, `Content-Type ${type} is not accepted: send the body as application/json`, 'invalid_request_error', 'unsupported_media_type'));
  }
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) return Promise.reject(tooLarge(limit));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      const text = Buffer.concat(chunks).toString('utf8');
      if (text.trim() === '') return reject(badRequest('the request body is empty: send a JSON object', null, 'invalid_json'));
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (e) {
        return reject(badRequest(`the request body is not valid JSON: ${(e as Error).message}`, null, 'invalid_json'));
      }
      if (!isObject(value)) return reject(badRequest('the request body must be a JSON object', null, 'invalid_json'));
      resolve(value);
    };
    const onError = (e: Error) => {
      cleanup();
      reject(badRequest(`the request body could not be read: ${e.message}`));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
