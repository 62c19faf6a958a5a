/**
 * Request bodies: JSON objects of at most `limit` bytes, else 413. A body a little over the limit (up to
 * twice it) is read to its end and dropped before the answer, because a server that answers and closes
 * while the client still sends makes the client fail with EPIPE before it reads the 413; a larger one is
 * answered at once with `Connection: close`. The server's requestTimeout bounds the reading. Content
 * types a browser may send to another origin without asking first (form posts, text/plain) are refused
 * with 415, so a web page cannot make the local server generate.
 */
import type { IncomingMessage } from 'node:http';
import { badRequest, HttpError } from './errors.js';
import { isObject } from './validate.js';

export const DEFAULT_MAX_BODY_BYTES = 10 * 1024 * 1024;

const BROWSER_SIMPLE_TYPES = new Set(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data']);

function tooLarge(limit: number, close: boolean): HttpError {
  return new HttpError(413, `the request body is larger than ${limit} bytes`, 'invalid_request_error', 'request_too_large', null, close ? { Connection: 'close' } : {});
}

export function readJsonBody(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (BROWSER_SIMPLE_TYPES.has(type)) {
    return Promise.reject(new HttpError(415, `Content-Type ${type} is not accepted: send the body as application/json`, 'invalid_request_error', 'unsupported_media_type'));
  }
  const mostDrained = 2 * limit;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > mostDrained) return Promise.reject(tooLarge(limit, true));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = Number.isFinite(declared) && declared > limit;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit && !over) {
        over = true;
        chunks.length = 0;
      }
      if (size > mostDrained) {
        cleanup();
        reject(tooLarge(limit, true));
      } else if (!over) chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      if (over) return reject(tooLarge(limit, false));
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
