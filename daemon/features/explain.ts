/**
 * `moecode/code/explain`: explains a range of an open document (the whole line for an empty range),
 * with up to 30 lines around it as context (fewer when the context is short); streamed like chat.
 */
import type { CancellationToken } from 'vscode-languageserver/node';
import { ExplainRequest, type ExplainResult } from '../protocol.js';
import { promptBudget } from './chat.js';
import { renderChatIds } from './chat-prompt.js';
import { displayPath, excerpt, linesText } from './documents-text.js';
import { explainMessages } from './explain-prompt.js';
import { invalidParams, requestFailed } from './errors.js';
import type { Feature, ServerContext } from './feature.js';
import { chatStopStrings } from './chat-generation.js';
import { remoteExplainMessages, remotePromptChars } from './remote-prompt.js';
import { runRemoteStreamed, runStreamed } from './streaming.js';
import { expectRange, expectTextDocument, isObject, optionalNumber, optionalStreamId, optionalString } from './validate.js';

const CONTEXT_LINES = 30;

export class ExplainFeature implements Feature {
  readonly name = 'explain';
  constructor(private readonly ctx: ServerContext) {
    ctx.connection.onRequest(ExplainRequest.type, ctx.lifecycle.guard(ExplainRequest.method, (params, token) => this.explain(params, token)));
  }

  private async explain(params: unknown, token: CancellationToken): Promise<ExplainResult> {
    if (!isObject(params)) throw invalidParams('params must be an object');
    const { uri } = expectTextDocument(params.textDocument);
    let range = expectRange(params.range, 'range');
    const question = optionalString(params.question, 'question');
    const maxTokens = optionalNumber(params.maxTokens, 'maxTokens', (n) => Number.isInteger(n) && n > 0);
    const temperature = optionalNumber(params.temperature, 'temperature', (n) => n >= 0);
    const seed = optionalNumber(params.seed, 'seed', (n) => Number.isInteger(n) && n >= 0);
    const streamId = optionalStreamId(params.streamId);
    const doc = this.ctx.documents.get(uri);
    if (!doc) throw requestFailed('unknownDocument', `document ${uri} is not open: send textDocument/didOpen first`);
    if (range.start.line >= doc.lineCount) throw invalidParams(`range starts past the end of ${uri} (${doc.lineCount} lines)`);
    if (range.start.line === range.end.line && range.start.character === range.end.character) {
      range = { start: { line: range.start.line, character: 0 }, end: { line: range.start.line + 1, character: 0 } };
    }
    const settings = await this.ctx.settings.get();
    const backend = this.ctx.backend.current();
    const max = maxTokens ?? settings.chat.maxTokens;
    const { text: code, lines } = excerpt(doc, range);
    const base = { languageId: doc.languageId, path: displayPath(uri), lines, code, question };
    if (backend.kind === 'remote') {
      const render = (n: number) => explainMessages({ ...base, before: linesText(doc, lines[0] - 1 - n, lines[0] - 1), after: linesText(doc, lines[1], lines[1] + n) });
      const messages = remoteExplainMessages(render, CONTEXT_LINES, remotePromptChars(backend.server.contextLength, max));
      return runRemoteStreamed(this.ctx, backend.server, { messages, maxTokens: max, temperature: temperature ?? settings.chat.temperature, seed, streamId }, token);
    }
    const engine = backend.engine;
    const budget = promptBudget(engine.model.nCtx, max);
    // as much surrounding code as fits, halving until it does
    let ids: number[] | undefined;
    for (let n = CONTEXT_LINES; ; n = Math.floor(n / 2)) {
      const before = linesText(doc, lines[0] - 1 - n, lines[0] - 1);
      const after = linesText(doc, lines[1], lines[1] + n);
      const candidate = renderChatIds(engine, explainMessages({ ...base, before, after }));
      if (candidate.length <= budget) {
        ids = candidate;
        break;
      }
      if (n === 0) break;
    }
    if (!ids) throw requestFailed('contextOverflow', `the code to explain does not fit the model's context (${engine.model.nCtx} tokens); select less`);
    return runStreamed(
      this.ctx,
      engine,
      { prompt: ids, maxTokens: max, temperature: temperature ?? settings.chat.temperature, seed, stop: chatStopStrings(engine), streamId },
      token,
    );
  }
}
