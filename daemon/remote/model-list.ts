/** What `GET /v1/models` says: the model ids, and the context length where the server tells it. */
import { RemoteProtocolError } from './errors.js';

export interface ServedModel {
  id: string;
  /** Tokens of context (vLLM/SGLang `max_model_len`, llama-server `meta.n_ctx_train`), when given. */
  contextLength?: number;
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const positiveInt = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);

export function parseModelList(body: unknown, url: string): ServedModel[] {
  if (!isObject(body) || !Array.isArray(body.data)) throw new RemoteProtocolError(url, 'the model list has no `data` array: is this an OpenAI-compatible /v1 URL?');
  const out: ServedModel[] = [];
  for (const m of body.data) {
    if (!isObject(m) || typeof m.id !== 'string' || m.id === '') continue;
    const meta = isObject(m.meta) ? m.meta : {};
    out.push({ id: m.id, contextLength: positiveInt(m.max_model_len) ?? positiveInt(m.context_length) ?? positiveInt(meta.n_ctx) ?? positiveInt(meta.n_ctx_train) });
  }
  return out;
}
