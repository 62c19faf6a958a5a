/**
 * Field checks for request bodies: a bad field gets 400 naming it (`param`). `null` counts as absent,
 * as OpenAI clients send it for unset options; fields a route does not know are ignored.
 */
import { badRequest } from './errors.js';

export type Body = Record<string, unknown>;

/** Most stop strings, and most characters in one (every generated token is checked against all of them). */
export const MAX_STOP_STRINGS = 64;
export const MAX_STOP_LENGTH = 128;

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const present = (v: unknown) => v !== undefined && v !== null;

export function optionalString(body: Body, name: string): string | undefined {
  const v = body[name];
  if (!present(v)) return undefined;
  if (typeof v !== 'string') throw badRequest(`${name} must be a string`, name);
  return v;
}

export function optionalBoolean(body: Body, name: string): boolean | undefined {
  const v = body[name];
  if (!present(v)) return undefined;
  if (typeof v !== 'boolean') throw badRequest(`${name} must be true or false`, name);
  return v;
}

/** A number in [min, max] (`minExclusive`: above min). */
export function optionalNumber(body: Body, name: string, min: number, max: number, minExclusive = false): number | undefined {
  const v = body[name];
  if (!present(v)) return undefined;
  const ok = typeof v === 'number' && Number.isFinite(v) && (minExclusive ? v > min : v >= min) && v <= max;
  if (!ok) throw badRequest(`${name} must be a number ${minExclusive ? 'above' : 'from'} ${min} ${minExclusive ? 'up ' : ''}to ${max}, got ${JSON.stringify(v)}`, name);
  return v as number;
}

export function optionalInteger(body: Body, name: string, min: number, max: number): number | undefined {
  const v = body[name];
  if (!present(v)) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw badRequest(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(v)}`, name);
  return v;
}

/** A sampling seed: any safe integer, used modulo 2^32. */
export function optionalSeed(body: Body, name = 'seed'): number | undefined {
  const v = optionalInteger(body, name, Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  return v === undefined ? undefined : Number(BigInt.asUintN(32, BigInt(v)));
}

/** `stop`: a string or an array of strings; empty strings are dropped. */
export function stopStrings(body: Body, name = 'stop'): string[] {
  const v = body[name];
  if (!present(v)) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) throw badRequest(`${name} must be a string or an array of strings`, name);
  if (list.length > MAX_STOP_STRINGS) throw badRequest(`${name} has ${list.length} strings; at most ${MAX_STOP_STRINGS} are allowed`, name);
  if (list.some((s: string) => s.length > MAX_STOP_LENGTH)) throw badRequest(`${name}: a stop string may have at most ${MAX_STOP_LENGTH} characters`, name);
  return (list as string[]).filter((s) => s.length > 0);
}

/** `n` (and `best_of`): one answer per request is all this server gives. */
export function expectSingleChoice(body: Body, name: string): void {
  const v = body[name];
  if (present(v) && v !== 1) throw badRequest(`${name} must be 1: this server returns one choice per request`, name);
}

/** `stream_options.include_usage`. */
export function includeUsage(body: Body): boolean {
  const v = body.stream_options;
  if (!present(v)) return false;
  if (!isObject(v)) throw badRequest('stream_options must be an object', 'stream_options');
  const u = v.include_usage;
  if (present(u) && typeof u !== 'boolean') throw badRequest('stream_options.include_usage must be true or false', 'stream_options.include_usage');
  return u === true;
}

/** `model`: any name is accepted (the server has one model), but it must be a string. */
export function checkModelField(body: Body): void {
  optionalString(body, 'model');
}
