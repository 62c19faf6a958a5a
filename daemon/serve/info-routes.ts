/**
 * GET /health (llama-server's probe: 200 `{"status":"ok"}` once the model is loaded, 503 while it
 * loads), GET /v1/models (the one model), GET /status (the model's state and the scheduler's queues and
 * counters, without any request's text).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ServeContext } from './context.js';
import { modelUnavailable } from './errors.js';
import { sendError, sendJson } from './respond.js';

export async function health(ctx: ServeContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const s = ctx.model.status;
  if (s.state === 'ready' || s.state === 'busy') return sendJson(res, 200, { status: 'ok' });
  const message = s.state === 'loading' ? `Loading model (${Math.round(s.progress)}%)` : (s.message ?? 'no model is loaded');
  sendError(res, modelUnavailable(message, s.state === 'loading' ? 'model_loading' : 'model_not_loaded'));
}

export async function models(ctx: ServeContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  sendJson(res, 200, { object: 'list', data: [{ id: ctx.modelId, object: 'model', created: ctx.startedAt, owned_by: 'moecode' }] });
}

export async function status(ctx: ServeContext, _req: IncomingMessage, res: ServerResponse): Promise<void> {
  const s = ctx.model.status;
  const q = ctx.scheduler.state();
  sendJson(res, 200, {
    model: { id: ctx.modelId, state: s.state, progress: s.progress, name: s.modelName, adapter: s.adapter, context_length: s.memory?.contextLength ?? null, message: s.message ?? null },
    scheduler: {
      queued: q.queued,
      running: q.running,
      limits: q.limits,
      counters: q.counters,
      last: q.last ? { kind: q.last.kind, stop_reason: q.last.outcome.stopReason, prompt_tokens: q.last.outcome.promptTokens, generated_tokens: q.last.outcome.tokens.length } : null,
    },
  });
}
