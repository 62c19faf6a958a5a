/** `moecode/chat/send`: a conversation answered with the model's chat template, streamed on request. */
import type { CancellationToken } from 'vscode-languageserver/node';
import { ChatRequest, type ChatMessage, type ChatResult } from '../protocol.js';
import { fitChatPrompt, type ResolvedAttachment } from './chat-prompt.js';
import { displayPath, excerpt } from './documents-text.js';
import { invalidParams, requestFailed } from './errors.js';
import type { Feature, ServerContext } from './feature.js';
import { chatStopStrings } from './chat-generation.js';
import { remoteChatMessages, remotePromptChars } from './remote-prompt.js';
import { runRemoteStreamed, runStreamed } from './streaming.js';
import { expectObject, expectRange, expectString, isObject, optionalNumber, optionalStreamId, optionalString } from './validate.js';

const ROLES = new Set(['system', 'user', 'assistant']);

export function parseMessages(v: unknown): ChatMessage[] {
  if (!Array.isArray(v) || v.length === 0) throw invalidParams('messages must be a non-empty array');
  const out = v.map((m, i) => {
    const o = expectObject(m, `messages[${i}]`);
    if (typeof o.role !== 'string' || !ROLES.has(o.role)) throw invalidParams(`messages[${i}].role must be system, user or assistant`);
    return { role: o.role as ChatMessage['role'], content: expectString(o.content, `messages[${i}].content`) };
  });
  if (out[out.length - 1]!.role !== 'user') throw invalidParams('the last message must be from the user');
  return out;
}

/**
 * Prompt tokens allowed: the context minus the room kept for the answer — the requested tokens, at most a
 * quarter of the context (a longer answer still runs on until the context is full). A quarter, not more, so
 * a small-context model (the shipped one has 256) can still take a prompt with a few lines of code.
 */
export function promptBudget(nCtx: number, maxTokens: number): number {
  return nCtx - Math.min(maxTokens, Math.floor(nCtx / 4)) - 1;
}

export class ChatFeature implements Feature {
  readonly name = 'chat';
  constructor(private readonly ctx: ServerContext) {
    ctx.connection.onRequest(ChatRequest.type, ctx.lifecycle.guard(ChatRequest.method, (params, token) => this.chat(params, token)));
  }

  private resolveAttachments(v: unknown): ResolvedAttachment[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) throw invalidParams('attachments must be an array');
    return v.map((a, i) => {
      const what = `attachments[${i}]`;
      const o = expectObject(a, what);
      if (o.kind !== 'selection' && o.kind !== 'file') throw invalidParams(`${what}.kind must be 'selection' or 'file'`);
      const uri = optionalString(o.uri, `${what}.uri`);
      const range = o.range === undefined || o.range === null ? undefined : expectRange(o.range, `${what}.range`);
      let text = optionalString(o.text, `${what}.text`);
      let lines: [number, number] | undefined = range ? [range.start.line + 1, range.end.line + 1] : undefined;
      const doc = uri ? this.ctx.documents.get(uri) : undefined;
      if (text === undefined) {
        if (!uri) throw invalidParams(`${what} needs text or the uri of an open document`);
        if (!doc) throw requestFailed('unknownDocument', `${what}: document ${uri} is not open`);
        if (range) ({ text, lines } = excerpt(doc, range));
        else {
          text = doc.getText();
          lines = [1, doc.lineCount];
        }
      }
      const path = optionalString(o.path, `${what}.path`) ?? (uri ? displayPath(uri) : 'untitled');
      const languageId = optionalString(o.languageId, `${what}.languageId`) ?? doc?.languageId ?? '';
      return { kind: o.kind, path, languageId, lines, text };
    });
  }

  private async chat(params: unknown, token: CancellationToken): Promise<ChatResult> {
    if (!isObject(params)) throw invalidParams('params must be an object');
    const messages = parseMessages(params.messages);
    const attachments = this.resolveAttachments(params.attachments);
    const maxTokens = optionalNumber(params.maxTokens, 'maxTokens', (n) => Number.isInteger(n) && n > 0);
    const temperature = optionalNumber(params.temperature, 'temperature', (n) => n >= 0);
    const seed = optionalNumber(params.seed, 'seed', (n) => Number.isInteger(n) && n >= 0);
    const streamId = optionalStreamId(params.streamId);
    const settings = await this.ctx.settings.get();
    const backend = this.ctx.backend.current();
    const max = maxTokens ?? settings.chat.maxTokens;
    if (backend.kind === 'remote') {
      const remoteMessages = remoteChatMessages(messages, attachments, remotePromptChars(backend.server.contextLength, max));
      return runRemoteStreamed(this.ctx, backend.server, { messages: remoteMessages, maxTokens: max, temperature: temperature ?? settings.chat.temperature, seed, streamId }, token);
    }
    const engine = backend.engine;
    const { ids, notes } = await fitChatPrompt(engine, messages, attachments, promptBudget(engine.model.nCtx, max));
    if (notes.length > 0) this.ctx.logger.info(`chat: ${notes.join(' ')}`);
    const result = await runStreamed(
      this.ctx,
      engine,
      { prompt: ids, maxTokens: max, temperature: temperature ?? settings.chat.temperature, seed, stop: chatStopStrings(engine), streamId },
      token,
    );
    return notes.length > 0 ? { ...result, notes } : result;
  }
}
