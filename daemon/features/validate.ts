/** Shape checks for request params: a malformed request gets InvalidParams naming the bad field. */
import type { Position, Range } from 'vscode-languageserver/node';
import { invalidParams } from './errors.js';

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function expectObject(v: unknown, what: string): Record<string, unknown> {
  if (!isObject(v)) throw invalidParams(`${what} must be an object`);
  return v;
}

export function expectString(v: unknown, what: string): string {
  if (typeof v !== 'string') throw invalidParams(`${what} must be a string`);
  return v;
}

export function optionalString(v: unknown, what: string): string | undefined {
  return v === undefined || v === null ? undefined : expectString(v, what);
}

export function optionalNumber(v: unknown, what: string, ok: (n: number) => boolean = () => true): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) throw invalidParams(`${what} has an invalid value: ${JSON.stringify(v)}`);
  return v;
}

export function expectPosition(v: unknown, what: string): Position {
  const o = expectObject(v, what);
  const { line, character } = o;
  if (typeof line !== 'number' || !Number.isInteger(line) || line < 0) throw invalidParams(`${what}.line must be a non-negative integer`);
  if (typeof character !== 'number' || !Number.isInteger(character) || character < 0) throw invalidParams(`${what}.character must be a non-negative integer`);
  return { line, character };
}

export function expectRange(v: unknown, what: string): Range {
  const o = expectObject(v, what);
  const start = expectPosition(o.start, `${what}.start`);
  const end = expectPosition(o.end, `${what}.end`);
  if (end.line < start.line || (end.line === start.line && end.character < start.character)) throw invalidParams(`${what} ends before it starts`);
  return { start, end };
}

export function expectTextDocument(v: unknown, what = 'textDocument'): { uri: string } {
  const o = expectObject(v, what);
  return { uri: expectString(o.uri, `${what}.uri`) };
}

export function optionalStreamId(v: unknown): string | number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v))) return v;
  throw invalidParams('streamId must be a string or a number');
}
