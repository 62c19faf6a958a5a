/** LSP errors the daemon answers with, and the mapping from internal failures to them. */
import { ErrorCodes, LSPErrorCodes, ResponseError } from 'vscode-languageserver/node';
import { ChatTemplateError } from '../engine/chat-template.js';
import { ContextOverflowError } from '../engine/model.js';
import { NonFiniteLogitsError } from '../model/sample-result.js';
import type { MoecodeErrorData, MoecodeErrorReason } from '../protocol.js';
import { RemoteConfigError, RemoteHttpError, RemoteProtocolError, RemoteQueueFullError, RemoteUnauthorizedError, RemoteUnreachableError, StreamCutError } from '../remote/errors.js';
import { EngineGoneError, QueueFullError } from '../scheduler/scheduler.js';

export function requestFailed(reason: MoecodeErrorReason, message: string): ResponseError<MoecodeErrorData> {
  return new ResponseError<MoecodeErrorData>(LSPErrorCodes.RequestFailed, message, { reason });
}

export function invalidParams(message: string): ResponseError<void> {
  return new ResponseError(ErrorCodes.InvalidParams, message);
}

export function requestCancelled(): ResponseError<void> {
  return new ResponseError(LSPErrorCodes.RequestCancelled, 'request cancelled');
}

/** Any failure as an LSP error (never a crash). */
export function toResponseError(e: unknown): ResponseError<unknown> {
  if (e instanceof ResponseError) return e;
  if (e instanceof QueueFullError || e instanceof RemoteQueueFullError) return requestFailed('queueFull', e.message);
  if (e instanceof RemoteUnreachableError) return requestFailed('remoteUnreachable', `the remote server ${e.message}; MoeCode keeps trying it in the background`);
  if (e instanceof RemoteUnauthorizedError) return requestFailed('remoteUnauthorized', `the remote server ${e.message}; set the key with "MoeCode: Set Remote API Key…" or MOECODE_REMOTE_API_KEY`);
  if (e instanceof RemoteHttpError || e instanceof RemoteProtocolError || e instanceof RemoteConfigError || e instanceof StreamCutError) return requestFailed('remoteError', e.message);
  if (e instanceof ChatTemplateError) return requestFailed('chatTemplate', e.message);
  if (e instanceof NonFiniteLogitsError) return requestFailed('modelError', e.message);
  if (e instanceof EngineGoneError) return requestFailed('modelError', `the request was dropped: ${e.message}`);
  if (e instanceof ContextOverflowError || (e instanceof RangeError && /context/.test(e.message))) return requestFailed('contextOverflow', e.message);
  const message = e instanceof Error ? e.message : String(e);
  return requestFailed('engineError', `generation failed: ${message}`);
}
