/**
 * The built-in actions (Explain, Fix, Document, Write Tests) and the registry every action lives in.
 * An action turns the editor context into one request: `explain` (moecode/code/explain, which adds
 * nearby code itself) or `chat` (moecode/chat/send with the selection attached). Commands, the chat
 * panel's slash commands and the status-bar quick pick all read the registry, so actions added later
 * (prompt files in .moecode/prompts/) show up everywhere by calling `actions.register(...)`.
 *
 * Plain data and functions, no `vscode` import: tested in test/editor/actions.test.ts.
 */
import type { ChatParams, ContextAttachment, ExplainParams } from '../daemon/protocol';
import type { Range } from 'vscode-languageserver-protocol';

/** What an action may use from the editor. */
export interface ActionContext {
  document: {
    uri: string;
    languageId: string;
    /** Workspace-relative path when inside a folder, else the file system path or the untitled name. */
    path: string;
  };
  /** The selection (absent or empty text when nothing is selected). */
  selection?: { range: Range; text: string };
  /** Free text the user typed after a slash command (`/fix the off-by-one`), or asked for. */
  input?: string;
}

/** What the user sees as their turn in the chat panel. */
export interface ActionDisplay {
  /** Markdown of the user's turn. */
  text: string;
  /** Short label of the attached context, e.g. "src/a.ts:10-14". */
  contextLabel?: string;
}

export type ActionRequest =
  | { kind: 'explain'; display: ActionDisplay; params: Omit<ExplainParams, 'streamId'> }
  | { kind: 'chat'; display: ActionDisplay; params: Omit<ChatParams, 'streamId' | 'messages'> & { prompt: string } };

export interface ChatAction {
  /** Unique id; also the chat slash command (`/explain`). Built-ins have a command `moecode.<id>Selection`. */
  id: string;
  /** Command palette / quick pick title, e.g. "Explain Selection". */
  title: string;
  description?: string;
  needsSelection: boolean;
  /** Where it came from: 'builtin' or a prompt file path. */
  source: string;
  /** The request for this context. Prompt files render in a bounded worker, so theirs is async and may reject with a message naming the file. */
  render(context: ActionContext): ActionRequest | Promise<ActionRequest>;
  /**
   * Asked before each run when the action changes the user's document and was not written by them (a workspace
   * prompt file with `output: replace` or `insert`); resolves false when the user declines (then do not run).
   */
  confirmRun?(): Promise<boolean>;
}

/** "src/a.ts:10-14" (1-based, inclusive) for a range. */
export function rangeLabel(path: string, range: Range | undefined): string {
  if (!range) return path;
  const start = range.start.line + 1;
  // a selection ending at column 0 of a line does not include that line
  const endLine = range.end.character === 0 && range.end.line > range.start.line ? range.end.line : range.end.line + 1;
  return start === endLine ? `${path}:${start}` : `${path}:${start}-${endLine}`;
}

function selectionAttachment(ctx: ActionContext): ContextAttachment[] {
  if (!ctx.selection?.text) return [];
  return [
    {
      kind: 'selection',
      uri: ctx.document.uri,
      path: ctx.document.path,
      languageId: ctx.document.languageId,
      range: ctx.selection.range,
      text: ctx.selection.text,
    },
  ];
}

function chatAction(id: string, title: string, description: string, instruction: (ctx: ActionContext) => string): ChatAction {
  return {
    id,
    title,
    description,
    needsSelection: true,
    source: 'builtin',
    render(ctx) {
      const label = rangeLabel(ctx.document.path, ctx.selection?.range);
      const prompt = instruction(ctx) + (ctx.input ? `\n\nAlso: ${ctx.input}` : '');
      return {
        kind: 'chat',
        display: { text: `**${title.replace(/ Selection$/, '')}** \`${label}\`${ctx.input ? ` — ${ctx.input}` : ''}`, contextLabel: label },
        params: { prompt, attachments: selectionAttachment(ctx) },
      };
    },
  };
}

export const BUILTIN_ACTIONS: readonly ChatAction[] = [
  {
    id: 'explain',
    title: 'Explain Selection',
    description: 'What the selected code does, step by step',
    needsSelection: true,
    source: 'builtin',
    render(ctx) {
      const label = rangeLabel(ctx.document.path, ctx.selection?.range);
      const range = ctx.selection?.range ?? { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
      return {
        kind: 'explain',
        display: { text: `**Explain** \`${label}\`${ctx.input ? ` — ${ctx.input}` : ''}`, contextLabel: label },
        params: { textDocument: { uri: ctx.document.uri }, range, ...(ctx.input ? { question: ctx.input } : {}) },
      };
    },
  },
  chatAction(
    'fix',
    'Fix Selection',
    'Find and fix bugs in the selected code',
    (ctx) =>
      `Find the bugs in the attached ${ctx.document.languageId} code from ${ctx.document.path} and fix them. ` +
      'Answer with the corrected code in one fenced code block, then list each change in one short line.',
  ),
  chatAction(
    'document',
    'Document Selection',
    'Write documentation comments for the selected code',
    (ctx) =>
      `Write documentation comments for the attached ${ctx.document.languageId} code from ${ctx.document.path}, ` +
      `in the usual style for ${ctx.document.languageId} (JSDoc, docstrings, …). Answer with the code and its comments in one fenced code block.`,
  ),
  chatAction(
    'tests',
    'Write Tests for Selection',
    'Write unit tests for the selected code',
    (ctx) =>
      `Write unit tests for the attached ${ctx.document.languageId} code from ${ctx.document.path}. ` +
      'Use the test framework the code most likely uses, cover normal cases and edge cases, and answer with one fenced code block.',
  ),
];

type Listener = () => void;

/** Every action by id: the built-ins first, then registered ones (a registered id replaces a built-in). */
export class ActionRegistry {
  private readonly builtins = new Map<string, ChatAction>();
  private readonly added = new Map<string, ChatAction>();
  private readonly listeners = new Set<Listener>();

  constructor(builtins: readonly ChatAction[] = BUILTIN_ACTIONS) {
    for (const a of builtins) this.builtins.set(a.id, a);
  }

  /** Adds (or replaces) an action; dispose the result to remove it. */
  register(action: ChatAction): { dispose(): void } {
    this.added.set(action.id, action);
    this.fire();
    return {
      dispose: () => {
        if (this.added.get(action.id) === action) {
          this.added.delete(action.id);
          this.fire();
        }
      },
    };
  }

  get(id: string): ChatAction | undefined {
    return this.added.get(id) ?? this.builtins.get(id);
  }

  all(): ChatAction[] {
    const out = new Map(this.builtins);
    for (const [id, a] of this.added) out.set(id, a);
    return [...out.values()];
  }

  onDidChange(listener: Listener): { dispose(): void } {
    this.listeners.add(listener);
    return { dispose: () => this.listeners.delete(listener) };
  }

  private fire(): void {
    for (const l of this.listeners) l();
  }
}
