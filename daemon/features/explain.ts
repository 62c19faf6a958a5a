/**
 * `moecode/code/explain`: explains a range of an open document (the whole line for an empty range),
 * with up to 30 lines around it as context (fewer when the context is short); streamed like chat. Code
 * longer than the context allows is cut from its end, and the prompt and the result say what was left out.
 */
import type { CancellationToken } from 'vscode-languageserver/node';
import { ExplainRequest, type ExplainResult } from '../protocol.js';
import { promptBudget } from './chat.js';
import { CHARS_PER_TOKEN_CEILING, capChars, fitHeads, largestFitting, leftOutNote } from './chat-fit.js';
import { renderChatIds, sentence } from './chat-prompt.js';
import { displayPath, excerpt, linesText } from './documents-text.js';
import { explainMessages, type ExplainInput } from './explain-prompt.js';
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
    const base = { languageId: doc.languageId, path: displayPath(uri), lines, question };
    if (backend.kind === 'remote') {
      const render = (n: number) => explainMessages({ ...base, code, before: linesText(doc, lines[0] - 1 - n, lines[0] - 1), after: linesText(doc, lines[1], lines[1] + n) });
      const messages = remoteExplainMessages(render, CONTEXT_LINES, remotePromptChars(backend.server.contextLength, max));
      return runRemoteStreamed(this.ctx, backend.server, { messages, maxTokens: max, temperature: temperature ?? settings.chat.temperature, seed, streamId }, token);
    }
    const engine = backend.engine;
    const budget = promptBudget(engine.model.nCtx, max);
    let ids: number[] | undefined;
    const fits = async (x: ExplainInput): Promise<boolean> => {
      const candidate = await renderChatIds(engine, explainMessages(x));
      if (candidate.length > budget) return false;
      ids = candidate;
      return true;
    };
    const around = (n: number) => ({ before: linesText(doc, lines[0] - 1 - n, lines[0] - 1), after: linesText(doc, lines[1], lines[1] + n) });
    const what = 'the selected code';
    // nothing beyond what the budget could possibly hold is tokenized
    const capped = capChars(code, budget * CHARS_PER_TOKEN_CEILING);
    const whole = { ...base, code: capped, note: leftOutNote(code, capped.length, what, lines[0]) || undefined };
    const notes: string[] = [];
    // the whole code with as much surrounding code as fits; else the code alone, cut from its end
    const withContext = async () =>
      (await fits({ ...whole, ...around(CONTEXT_LINES) })) || (await largestFitting(0, CONTEXT_LINES - 1, (n) => fits({ ...whole, ...around(n) }))) !== undefined;
    if (await withContext()) {
      if (whole.note) notes.push(whole.note);
    } else {
      const heads = await fitHeads([capped], ([head]) => fits({ ...base, code: head!, note: leftOutNote(code, head!.length, what, lines[0]), before: '', after: '' }));
      if (heads === undefined) throw requestFailed('contextOverflow', `the question alone does not fit the model's context (${engine.model.nCtx} tokens)`);
      notes.push(leftOutNote(code, heads[0]!.length, what, lines[0]));
    }
    if (!ids) throw requestFailed('contextOverflow', `the code to explain does not fit the model's context (${engine.model.nCtx} tokens); select less`);
    if (notes.length > 0) this.ctx.logger.info(`explain: ${notes.join('; ')}`);
    const result = await runStreamed(
      this.ctx,
      engine,
      { prompt: ids, maxTokens: max, temperature: temperature ?? settings.chat.temperature, seed, stop: chatStopStrings(engine), streamId },
      token,
    );
    return notes.length > 0 ? { ...result, notes: notes.map(sentence) } : result;
  }
}
