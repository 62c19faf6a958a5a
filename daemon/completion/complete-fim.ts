/**
 * One fill-in-the-middle generation through the scheduler, as the LSP inline completion and
 * `moecode serve` (/infill, /v1/completions with a suffix) both run it:
 * - the prompt in the model's FIM token order (fim-prompt.ts), within a budget the context leaves;
 * - token healing of the prompt's last prefix token (token-healing.ts); the healed text is cut from
 *   what the model writes, in the streamed text too;
 * - for editor suggestions, the stop rules after every token and the post filters at the end
 *   (pipeline.ts); a raw generation stops only at its stop strings, its length or end of generation.
 * Control tokens that do not end generation are never sampled (the scheduler's default mask).
 */
import type { Engine } from '../engine/engine.js';
import type { SamplingParams } from '../gpu/graph-runner.js';
import type { GenerationOutcome } from '../scheduler/generation-job.js';
import type { Scheduler } from '../scheduler/scheduler.js';
import { completionContext } from './completion-context.js';
import { buildFimPrompt, type FimPrompt } from './fim-prompt.js';
import { postProcess, stopPosition } from './pipeline.js';
import { healerFor, stripHealed } from './token-healing.js';

/** Most prompt tokens for a completion (further limited by the context length). */
export const COMPLETION_PROMPT_BUDGET = 2048;
/** Most milliseconds spent decoding one suggestion. */
export const COMPLETION_TIME_BUDGET_MS = 3000;

export interface FimGeneration {
  /** Whose KV slot this uses (a document URI, an HTTP client); also the scheduler's fairness key. */
  owner: string;
  /** Text before the cursor. */
  prefix: string;
  /** Text after the cursor ('' for none). */
  suffix: string;
  /** Stop rules while generating and post filters at the end (an editor suggestion), or none (raw). */
  editorFilters: boolean;
  languageId?: string;
  /** Most tokens of the completion (the healed token does not count). */
  maxTokens: number;
  /** Start of the previous prompt's prefix window (fim-prompt.ts), to keep the KV cache warm. */
  anchor?: number;
  sampling: SamplingParams;
  /** Stop strings (cut from the text). */
  stop?: readonly string[];
  /** Most milliseconds of decoding. */
  timeBudgetMs?: number;
  signal?: AbortSignal;
  /**
   * The text as it becomes final, the healed part already cut. For editor suggestions the post filters
   * may still shorten the end afterwards: use FimResult.text for what to show.
   */
  onText?: (delta: string) => void;
}

export interface FimResult {
  /** The completion at the cursor: healed part cut, and filtered for an editor suggestion. */
  text: string;
  outcome: GenerationOutcome;
  prompt: FimPrompt;
}

/** Prompt tokens a completion of `maxTokens` may use in a context of `nCtx`. */
export function fimPromptBudget(nCtx: number, maxTokens: number): number {
  return Math.max(16, Math.min(COMPLETION_PROMPT_BUDGET, nCtx - maxTokens - 8));
}

/** Calls `onText` with the stream less its first `n` characters. */
function skippingFirst(n: number, onText: (delta: string) => void): (delta: string) => void {
  let skip = n;
  return (delta) => {
    if (skip > 0) {
      const cut = Math.min(skip, delta.length);
      skip -= cut;
      delta = delta.slice(cut);
    }
    if (delta.length > 0) onText(delta);
  };
}

export async function completeFim(scheduler: Scheduler, engine: Engine, g: FimGeneration): Promise<FimResult> {
  const cctx = completionContext(g.prefix, g.suffix, { languageId: g.languageId });
  const budget = fimPromptBudget(engine.model.nCtx, g.maxTokens);
  const prompt = buildFimPrompt(engine.tokenizer, g.prefix, g.suffix, { budget, anchor: g.anchor });
  const heal = healerFor(engine.tokenizer).heal(prompt);
  const outcome = await scheduler.submit({
    kind: 'completion',
    preparedFor: engine,
    owner: g.owner,
    prompt: heal.ids,
    // the healed token comes back first: it does not count against the completion's length
    maxTokens: g.maxTokens + (heal.healed ? 1 : 0),
    sampling: g.sampling,
    masks: { first: heal.firstTokenMask },
    stop: g.stop,
    shouldStop: g.editorFilters ? (t) => stopPosition(stripHealed(t, heal.healed), cctx) !== undefined : undefined,
    onText: g.onText ? skippingFirst(heal.healed.length, g.onText) : undefined,
    timeBudgetMs: g.timeBudgetMs,
    signal: g.signal,
  });
  const generated = stripHealed(outcome.text, heal.healed);
  return { text: g.editorFilters ? postProcess(generated, cctx) : generated, outcome, prompt };
}
