/**
 * One request: Host check, API key, route lookup (404 / 405 in OpenAI's error shape), the JSON body,
 * the handler; any failure becomes an HttpError answer (errors.ts), never a crash.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { readJsonBody } from './body.js';
import { chatCompletions } from './chat-completions.js';
import { completions } from './completions.js';
import type { ServeContext } from './context.js';
import { badRequest, HttpError, toHttpError } from './errors.js';
import { infill } from './infill.js';
import { health, models, status } from './info-routes.js';
import { sendError } from './respond.js';
import type { Body } from './validate.js';

type Handler = (ctx: ServeContext, req: IncomingMessage, res: ServerResponse, body: Body) => Promise<void>;

interface Route {
  method: 'GET' | 'POST';
  /** Served without an API key. */
  open?: boolean;
  handler: Handler;
}

/** Paths as OpenAI clients and llama-server clients write them (with and without the /v1 prefix). */
const ROUTES: Record<string, Route> = {
  '/health': { method: 'GET', open: true, handler: health },
  '/v1/health': { method: 'GET', open: true, handler: health },
  '/v1/models': { method: 'GET', handler: models },
  '/models': { method: 'GET', handler: models },
  '/status': { method: 'GET', handler: status },
  '/v1/chat/completions': { method: 'POST', handler: chatCompletions },
  '/chat/completions': { method: 'POST', handler: chatCompletions },
  '/v1/completions': { method: 'POST', handler: completions },
  '/completions': { method: 'POST', handler: completions },
  '/infill': { method: 'POST', handler: infill },
};

export function isLoopbackHostname(name: string): boolean {
  const n = name.toLowerCase();
  if (n === 'localhost' || n.endsWith('.localhost')) return true;
  if (isIP(n) === 4) return n.startsWith('127.');
  return n === '::1' || n === '0:0:0:0:0:0:0:1';
}

/** The name in a Host header (`name`, `name:port`, `[v6]:port`). */
export function hostnameOf(hostHeader: string): string {
  if (hostHeader.startsWith('[')) return hostHeader.slice(1, Math.max(1, hostHeader.indexOf(']')));
  const colon = hostHeader.indexOf(':');
  return colon >= 0 && colon === hostHeader.lastIndexOf(':') ? hostHeader.slice(0, colon) : hostHeader;
}

/**
 * A server bound to loopback answers only requests addressed to a loopback name, so a web page whose
 * own name was pointed at 127.0.0.1 (DNS rebinding) cannot use it.
 */
function checkHost(ctx: ServeContext, req: IncomingMessage): void {
  if (!isLoopbackHostname(ctx.options.host)) return;
  const host = req.headers.host;
  if (host !== undefined && !isLoopbackHostname(hostnameOf(host))) {
    throw new HttpError(403, `this server listens on ${ctx.options.host} and answers only requests addressed to a loopback name, not ${host}`, 'permission_error', 'forbidden_host');
  }
}

/** The request target's path without trailing slashes; a target URL cannot parse is a 400, not a 500. */
function requestPath(target: string | undefined): string {
  let url: URL;
  try {
    url = new URL(target ?? '/', 'http://localhost');
  } catch {
    throw badRequest('the request target is not a valid URL');
  }
  return url.pathname.replace(/\/+$/, '') || '/';
}

/**
 * Browsers send Origin on every cross-origin request, including the "simple" POSTs a page may send
 * without asking first (no Content-Type, a Blob body): a request from a web page that is not itself on
 * a loopback address is refused, so no page the user opens can make the local server generate.
 * Editors and other local clients send no Origin.
 */
function checkOrigin(req: IncomingMessage): void {
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let hostname = '';
  try {
    hostname = new URL(origin).hostname.replace(/^\[|\]$/g, ''); // an opaque origin ('null') parses to nothing
  } catch {
    // not a URL: refused below
  }
  if (!hostname || !isLoopbackHostname(hostname)) {
    throw new HttpError(403, 'requests from web pages of other sites are not accepted', 'permission_error', 'forbidden_origin');
  }
}

export async function route(ctx: ServeContext, checkKey: ((authorization: string | undefined) => void) | undefined, req: IncomingMessage, res: ServerResponse): Promise<void> {
  try {
    const path = requestPath(req.url);
    checkHost(ctx, req);
    checkOrigin(req);
    const r = ROUTES[path];
    if (!r?.open) checkKey?.(req.headers.authorization);
    if (!r) throw new HttpError(404, `no route ${req.method} ${path}`, 'not_found_error', 'not_found');
    if (req.method !== r.method && !(r.method === 'GET' && req.method === 'HEAD')) {
      throw new HttpError(405, `${path} takes ${r.method}, not ${req.method}`, 'invalid_request_error', 'method_not_allowed', null, { Allow: r.method });
    }
    const body = r.method === 'POST' ? await readJsonBody(req, ctx.options.maxBodyBytes) : {};
    await r.handler(ctx, req, res, body);
  } catch (e) {
    const err = toHttpError(e);
    if (err.status >= 500 && err.status !== 503) ctx.log(`${req.method} ${req.url}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    sendError(res, err);
  }
}
