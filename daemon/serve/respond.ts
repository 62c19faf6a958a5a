/** Writing JSON answers and errors (an error after a stream started becomes its last event). */
import type { ServerResponse } from 'node:http';
import type { HttpError } from './errors.js';

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.destroyed || res.writableEnded) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': String(Buffer.byteLength(text)), ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, error: HttpError): void {
  if (res.destroyed || res.writableEnded) return;
  if (res.headersSent) res.end(`data: ${JSON.stringify(error.body)}\n\n`);
  else sendJson(res, error.status, error.body, error.headers);
}
