/** `moecode/debug/state`: scheduler queues, KV slots and counters, for tests and bug reports. */
import { DebugStateRequest, type DebugStateResult } from '../protocol.js';
import type { CompletionFeature } from './completion.js';
import type { Feature, ServerContext } from './feature.js';
import { isObject } from './validate.js';

export class DebugFeature implements Feature {
  readonly name = 'debug';

  constructor(
    private readonly ctx: ServerContext,
    private readonly completion: CompletionFeature,
  ) {
    ctx.connection.onRequest(
      DebugStateRequest.type,
      ctx.lifecycle.guard(DebugStateRequest.method, async (params): Promise<DebugStateResult> => {
        if (isObject(params) && params.waitForIdle === true) await ctx.scheduler.whenIdle();
        return this.state();
      }),
    );
  }

  state(): DebugStateResult {
    const s = this.ctx.scheduler.state();
    return {
      queued: s.queued,
      running: s.running,
      limits: s.limits,
      slots: s.slots.map((x) => ({ slot: x.slot, owner: x.owner, cachedTokens: x.cachedTokens, busy: x.busy })),
      completionCacheEntries: this.completion.cacheEntries,
      documents: this.ctx.documents.all().length,
      counters: { cacheHits: this.completion.cacheHits, ...s.counters },
      current: s.current ?? null,
      last: s.last
        ? {
            kind: s.last.kind,
            stopReason: s.last.outcome.stopReason,
            promptTokens: s.last.outcome.promptTokens,
            reusedTokens: s.last.outcome.reusedTokens,
            prefillTokens: s.last.outcome.prefillTokens,
            prefillMs: round(s.last.outcome.prefillMs),
            generatedTokens: s.last.outcome.tokens.length,
            decodeMs: round(s.last.outcome.decodeMs),
            queuedMs: round(s.last.outcome.queuedMs),
            preemptions: s.last.outcome.preemptions,
          }
        : null,
    };
  }
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
