/**
 * HTTP errors of `moecode serve`, in OpenAI's shape: `{"error": {"message", "type", "param", "code"}}`,
 * and the mapping from the engine's typed failures to them (never a crash, never message matching).
 */
import { ResponseError } from 'vscode-languageserver/node';
import { ChatTemplateError } from '../engine/chat-template.js';
import { ContextOverflowError } from '../engine/model.js';
import type { MoecodeErrorData } from '../protocol.js';
import { EngineGoneError, QueueFullError } from '../scheduler/scheduler.js';

export type ErrorType = 'invalid_request_error' | 'authentication_error' | 'permission_error' | 'not_found_error' | 'rate_limit_error' | 'unavailable_error' | 'server_error';

export interface OpenAiErrorBody {
  error: { message: string; type: ErrorType; param: string | null; code: string | null };
}

export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
    readonly type: ErrorType,
    readonly code: string | null = null,
    readonly param: string | null = null,
    /** Extra response headers (WWW-Authenticate, Allow, Retry-After). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  get body(): OpenAiErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

export function badRequest(message: string, param: string | null = null, code: string | null = null): HttpError {
  return new HttpError(400, message, 'invalid_request_error', code, param);
}

export function contextTooLong(message: string, param: string | null = null): HttpError {
  return badRequest(message, param, 'context_length_exceeded');
}

export function modelUnavailable(message: string, code = 'model_not_ready'): HttpError {
  return new HttpError(503, message, 'unavailable_error', code, null, { 'Retry-After': '1' });
}

function isMoecodeErrorData(v: unknown): v is MoecodeErrorData {
  return typeof v === 'object' && v !== null && typeof (v as { reason?: unknown }).reason === 'string';
}

/** Any failure as an HttpError. */
export function toHttpError(e: unknown): HttpError {
  if (e instanceof HttpError) return e;
  if (e instanceof QueueFullError) return new HttpError(429, e.message, 'rate_limit_error', 'queue_full', null, { 'Retry-After': '1' });
  if (e instanceof EngineGoneError) return modelUnavailable(`the request was dropped: ${e.message}`, 'model_unloaded');
  if (e instanceof ContextOverflowError) return contextTooLong(e.message);
  if (e instanceof ChatTemplateError) {
    return e.phase === 'render' ? badRequest(e.message, 'messages', 'chat_template_error') : new HttpError(500, e.message, 'server_error', 'chat_template_error');
  }
  if (e instanceof ResponseError && isMoecodeErrorData(e.data)) {
    switch (e.data.reason) {
      case 'modelLoading':
        return modelUnavailable(e.message, 'model_loading');
      case 'noModel':
      case 'modelError':
        return modelUnavailable(e.message, 'model_not_loaded');
      case 'queueFull':
        return new HttpError(429, e.message, 'rate_limit_error', 'queue_full', null, { 'Retry-After': '1' });
      case 'contextOverflow':
        return contextTooLong(e.message);
      case 'unknownDocument':
        return badRequest(e.message);
      case 'engineError':
        break;
    }
  }
  const message = e instanceof Error ? e.message : String(e);
  return new HttpError(500, `generation failed: ${message}`, 'server_error', 'engine_error');
}
