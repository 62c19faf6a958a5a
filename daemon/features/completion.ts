/**
 * `textDocument/inlineCompletion` (LSP 3.18): FIM prompt from the text around the cursor, generation
 * through the scheduler with the stop rules checked after every token, then the post filters
 * (completion/complete-fim.ts, shared with `moecode serve`).
 * - Each document keeps a KV slot and an anchored prompt window, so typing one more character
 *   re-evaluates only the tokens after the change.
 * - A recent-results cache answers without the model when the user types what was suggested.
 * - `$/cancelRequest` answers RequestCancelled at once; a newer request for the same document answers
 *   the older one at once with no items. Either way the engine is free after the current step.
 * - `selectedCompletionInfo`: the prompt is built as if the selected item were inserted, and the
 *   suggestion replaces the item's range and starts with its text, as LSP 3.18 asks.
 * - Token healing (completion/token-healing.ts): the prompt's last prefix token is taken back and the
 *   first generated token must start with its text, which is cut from the output before the stop rules
 *   and post filters see it. Control tokens that do not end generation are never sampled (scheduler).
 * - With a remote server (generation-backend.ts) the prompt is the server's business (remote-completion.ts);
 *   the cache, cancellation, stop rules and post filters are the same.
 */
import { InlineCompletionRequest, InlineCompletionTriggerKind, type CancellationToken, type InlineCompletionList, type Position, type Range } from 'vscode-languageserver/node';
import { CompletionCache } from '../completion/completion-cache.js';
import { completionContext } from '../completion/completion-context.js';
import { COMPLETION_TIME_BUDGET_MS, completeFim } from '../completion/complete-fim.js';
import { postProcess, stopPosition } from '../completion/pipeline.js';
import { invalidParams, requestCancelled, requestFailed } from './errors.js';
import type { Feature, ServerContext } from './feature.js';
import { expectObject, expectPosition, expectRange, expectString, expectTextDocument } from './validate.js';

const TOP_K = 40;
const TOP_P = 0.95;
const SEED = 0;

type Cancel = 'cancelled' | 'superseded';

interface Selected {
  range: Range;
  text: string;
}

function parseParams(params: unknown): { uri: string; position: Position; selected?: Selected } {
  const p = expectObject(params, 'params');
  const { uri } = expectTextDocument(p.textDocument);
  const position = expectPosition(p.position, 'position');
  const context = expectObject(p.context, 'context');
  if (context.triggerKind !== InlineCompletionTriggerKind.Invoked && context.triggerKind !== InlineCompletionTriggerKind.Automatic) {
    throw invalidParams('context.triggerKind must be 1 (Invoked) or 2 (Automatic)');
  }
  let selected: Selected | undefined;
  if (context.selectedCompletionInfo !== undefined && context.selectedCompletionInfo !== null) {
    const s = expectObject(context.selectedCompletionInfo, 'context.selectedCompletionInfo');
    const range = expectRange(s.range, 'context.selectedCompletionInfo.range');
    if (range.start.line !== range.end.line) throw invalidParams('context.selectedCompletionInfo.range must be on one line');
    selected = { range, text: expectString(s.text, 'context.selectedCompletionInfo.text') };
  }
  return { uri, position, selected };
}

export class CompletionFeature implements Feature {
  readonly name = 'completion';
  private readonly cache = new CompletionCache(16);
  private readonly inFlight = new Map<string, AbortController>();
  private readonly anchors = new Map<string, number>();
  cacheHits = 0;

  constructor(private readonly ctx: ServerContext) {
    ctx.connection.languages.inlineCompletion.on(ctx.lifecycle.guard(InlineCompletionRequest.method, (params, token) => this.complete(params, token)));
  }

  initialize() {
    return { inlineCompletionProvider: true };
  }

  get cacheEntries(): number {
    return this.cache.size;
  }

  documentClosed(uri: string): void {
    this.inFlight.get(uri)?.abort('superseded' satisfies Cancel);
    this.inFlight.delete(uri);
    this.cache.clear(uri);
    this.anchors.delete(uri);
  }

  modelChanged(): void {
    this.cache.clear();
    this.anchors.clear();
  }

  settingsChanged(): void {
    this.cache.clear();
  }

  shutdown(): void {
    for (const ac of this.inFlight.values()) ac.abort('superseded' satisfies Cancel);
    this.inFlight.clear();
  }

  private async complete(params: unknown, token: CancellationToken): Promise<InlineCompletionList> {
    const { uri, position, selected } = parseParams(params);
    const doc = this.ctx.documents.get(uri);
    if (!doc) throw requestFailed('unknownDocument', `document ${uri} is not open: send textDocument/didOpen first`);
    if (position.line >= doc.lineCount) throw invalidParams(`position line ${position.line} is past the end of ${uri} (${doc.lineCount} lines)`);
    const settings = await this.ctx.settings.forDocument(uri);
    const langs = settings.inline.languages;
    if (langs.length > 0 && !langs.includes(doc.languageId)) return { items: [] };
    const backend = this.ctx.backend.current();
    if (token.isCancellationRequested) throw requestCancelled();

    // a newer request for a document answers the older one (empty) and takes its place
    this.inFlight.get(uri)?.abort('superseded' satisfies Cancel);
    const ac = new AbortController();
    this.inFlight.set(uri, ac);
    const sub = token.onCancellationRequested(() => ac.abort('cancelled' satisfies Cancel));
    try {
      const text = doc.getText();
      const offset = doc.offsetAt(position);
      let replace: Range = { start: doc.positionAt(offset), end: doc.positionAt(offset) };
      let prefix = text.slice(0, offset);
      let suffix = text.slice(offset);
      let lead = '';
      if (selected) {
        const s = doc.offsetAt(selected.range.start);
        const e = Math.max(doc.offsetAt(selected.range.end), offset);
        prefix = text.slice(0, s) + selected.text;
        suffix = text.slice(e);
        lead = selected.text;
        replace = { start: doc.positionAt(s), end: doc.positionAt(e) };
      }
      const cached = this.cache.get(uri, prefix, suffix);
      if (cached !== undefined) {
        this.cacheHits++;
        return this.items(lead + cached, replace);
      }
      if (backend.kind === 'remote') {
        // the server writes the prompt; the stop rules and post filters are the daemon's, as for the local model
        const cctx = completionContext(prefix, suffix, { languageId: doc.languageId });
        const shouldStop = (t: string) => stopPosition(t, cctx) !== undefined;
        const r = await backend.server.complete({ prefix, suffix, maxTokens: settings.completion.maxTokens, temperature: settings.completion.temperature, shouldStop, signal: ac.signal }, settings.remote.fimTemplate);
        return this.settle(ac, r && { text: postProcess(r.text, cctx), stopReason: r.stopReason }, { uri, prefix, suffix, lead, replace });
      }
      const { text: suggestion, outcome, prompt } = await completeFim(this.ctx.scheduler, backend.engine, {
        owner: uri,
        prefix,
        suffix,
        editorFilters: true,
        languageId: doc.languageId,
        maxTokens: settings.completion.maxTokens,
        anchor: this.anchors.get(uri),
        sampling: { temperature: settings.completion.temperature, topK: TOP_K, topP: TOP_P, seed: SEED },
        timeBudgetMs: COMPLETION_TIME_BUDGET_MS,
        signal: ac.signal,
      });
      // not for a request cancelled meanwhile: its document may be closed, or the model changed (anchors cleared)
      if (!ac.signal.aborted && this.ctx.documents.get(uri)) this.anchors.set(uri, prompt.prefixStart);
      return this.settle(ac, { text: suggestion, stopReason: outcome.stopReason }, { uri, prefix, suffix, lead, replace });
    } finally {
      sub.dispose();
      if (this.inFlight.get(uri) === ac) this.inFlight.delete(uri);
    }
  }

  /**
   * The answer for a suggestion: nothing when cancelled or superseded (RequestCancelled for
   * `$/cancelRequest`) or when there is none (`undefined`: the remote server could not answer — not
   * cached, so the next request asks again), else the suggestion, cached.
   */
  private settle(ac: AbortController, suggestion: { text: string; stopReason: string } | undefined, at: { uri: string; prefix: string; suffix: string; lead: string; replace: Range }): InlineCompletionList {
    if (ac.signal.aborted || suggestion === undefined || suggestion.stopReason === 'cancelled') {
      if (ac.signal.reason === ('cancelled' satisfies Cancel)) throw requestCancelled();
      return { items: [] };
    }
    this.cache.set(at.uri, at.prefix, at.suffix, suggestion.text);
    return this.items(at.lead + suggestion.text, at.replace);
  }

  private items(insertText: string, range: Range): InlineCompletionList {
    return insertText.trim() === '' ? { items: [] } : { items: [{ insertText, range }] };
  }
}
