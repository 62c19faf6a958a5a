/**
 * Inline suggestions come from the LanguageClient's inline completion feature (LSP 3.18
 * textDocument/inlineCompletion); this middleware decides whether and when a request goes out:
 * never for a disabled language or while suggestions are toggled off, and only after the adaptive
 * debounce for typing (an explicit "Trigger Suggestion" is sent at once).
 */
import * as vscode from 'vscode';
import type { Middleware } from 'vscode-languageclient/node';
import type { Config } from './config';
import { AdaptiveDebounce, sleepUnlessCancelled } from './inline-debounce';

export interface InlineGate {
  config: Config;
  debounce: AdaptiveDebounce;
  /** Counters for the status bar tooltip and tests. */
  stats: { requested: number; skippedDisabled: number; skippedLanguage: number; cancelledWhileWaiting: number };
}

export function createInlineGate(config: Config): InlineGate {
  return { config, debounce: new AdaptiveDebounce(), stats: { requested: 0, skippedDisabled: 0, skippedLanguage: 0, cancelledWhileWaiting: 0 } };
}

export function inlineMiddleware(gate: InlineGate): Middleware {
  return {
    provideInlineCompletionItems: async (document, position, context, token, next) => {
      if (!gate.config.inlineEnabled) {
        gate.stats.skippedDisabled++;
        return undefined;
      }
      if (!gate.config.isLanguageEnabled(document.languageId)) {
        gate.stats.skippedLanguage++;
        return undefined;
      }
      if (context.triggerKind === vscode.InlineCompletionTriggerKind.Automatic) {
        const wait = gate.debounce.delayFor(document.uri.toString(), gate.config.inlineDebounceMs);
        const waited = await sleepUnlessCancelled(wait, (l) => token.onCancellationRequested(l));
        if (!waited || token.isCancellationRequested) {
          gate.stats.cancelledWhileWaiting++;
          return undefined;
        }
      }
      gate.stats.requested++;
      return next(document, position, context, token);
    },
  };
}
