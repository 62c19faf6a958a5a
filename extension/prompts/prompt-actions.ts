/**
 * Prompt files as chat actions: each prompt in effect becomes a ChatAction in the extension's ActionRegistry
 * (extension/actions.ts), so it shows up in the "Run Action" quick pick of the command palette, in the status
 * bar's quick pick and as a `/name` slash command in the chat panel, and a prompt named like a built-in
 * (explain, fix, document, tests) takes that built-in's place and its command.
 *
 * Where a prompt comes from shows: a workspace prompt that takes a built-in's place is titled
 * "<title> (workspace)", and the description of every workspace prompt names its file, the built-in it hides
 * and what it does to the document. A workspace prompt that edits the document asks first (prompt-approvals.ts).
 * Templates render in the bounded renderer process of daemon/template/template-sandbox.ts.
 */
import * as vscode from 'vscode';
import { rangeLabel, type ActionContext, type ActionRegistry, type ActionRequest, type ChatAction } from '../actions';
import { editDescription, type PromptApprovals } from './prompt-approvals';
import type { OutputMode, PromptVariables } from './prompt-format';
import type { PromptRegistry } from './prompt-registry';
import { extractCode, renderPrompt, type RenderedPrompt } from './prompt-render';
import type { ResolvedPrompt } from './prompt-set';
import type { TemplateSandbox } from '../../daemon/template/template-sandbox';

/** What running prompt actions needs: the bounded renderer and the record of approved workspace edits. */
export interface PromptRunServices {
  sandbox: TemplateSandbox;
  approvals: PromptApprovals;
}

/** What a runner that honours the whole format needs: both messages, where the answer goes, sampling. */
export interface PromptRun extends RenderedPrompt {
  output: OutputMode;
  temperature?: number;
  maxTokens?: number;
}

export interface PromptAction extends ChatAction {
  readonly prompt: ResolvedPrompt;
  /** Language ids it applies to (empty: all); quick picks may hide it for other languages. */
  readonly languages: readonly string[];
  /** Present when the template reads {{ input }}: ask the user with this prompt when nothing was typed after /name. */
  readonly inputPrompt?: string;
  /** Renders the system and user messages separately (bounded), with the output mode and sampling settings. */
  renderRun(context: ActionContext): Promise<PromptRun>;
  render(context: ActionContext): Promise<ActionRequest>;
}

export function isPromptAction(action: ChatAction): action is PromptAction {
  return typeof (action as Partial<PromptAction>).renderRun === 'function';
}

/** The variables for a run: the selection (unless selection: none), the open document's text (when read), language and path. */
export function promptVariables(prompt: ResolvedPrompt, context: ActionContext): PromptVariables {
  const doc = prompt.variables.includes('file') ? vscode.workspace.textDocuments.find((d) => d.uri.toString() === context.document.uri) : undefined;
  return {
    selection: prompt.selection === 'none' ? '' : (context.selection?.text ?? ''),
    file: doc?.getText() ?? '',
    language: context.document.languageId,
    path: context.document.path,
    input: context.input ?? '',
  };
}

/** The title and description a prompt shows in menus: its origin is visible when it is not the user's or MoeCode's own. */
export function promptLabels(prompt: ResolvedPrompt): { title: string; description?: string } {
  if (prompt.origin !== 'workspace') return { title: prompt.title, description: prompt.description || undefined };
  const file = workspaceRelative(prompt.uri);
  const notes = [
    prompt.description,
    prompt.overridesBuiltin ? `workspace override of the built-in "${prompt.overridesBuiltin.title}"` : 'workspace prompt',
    editDescription(prompt.output),
    file,
  ].filter((n): n is string => !!n);
  return { title: prompt.overridesBuiltin ? `${prompt.title} (workspace)` : prompt.title, description: notes.join(' · ') };
}

function workspaceRelative(uri: string): string {
  try {
    return vscode.workspace.asRelativePath(vscode.Uri.parse(uri));
  } catch {
    return uri;
  }
}

export function promptAction(prompt: ResolvedPrompt, services: PromptRunServices): PromptAction {
  const renderRun = async (context: ActionContext): Promise<PromptRun> => {
    const rendered = await renderPrompt(prompt, promptVariables(prompt, context), services.sandbox);
    const run: PromptRun = { ...rendered, output: prompt.output };
    if (prompt.temperature !== undefined) run.temperature = prompt.temperature;
    if (prompt.maxTokens !== undefined) run.maxTokens = prompt.maxTokens;
    return run;
  };
  const { title, description } = promptLabels(prompt);
  return {
    id: prompt.name,
    title,
    description,
    needsSelection: prompt.selection === 'required',
    source: prompt.origin === 'builtin' ? 'builtin' : prompt.uri,
    prompt,
    languages: prompt.languages,
    ...(prompt.variables.includes('input') ? { inputPrompt: `${prompt.title}: ${prompt.description || 'what should it do?'}` } : {}),
    renderRun,
    confirmRun: () => services.approvals.approve(prompt),
    async render(context: ActionContext): Promise<ActionRequest> {
      const run = await renderRun(context);
      const label = context.selection ? rangeLabel(context.document.path, context.selection.range) : context.document.path;
      // Runners that take only one message get the system part in front of it.
      const text = run.system ? `${run.system}\n\n${run.user}` : run.user;
      return {
        kind: 'chat',
        display: { text: `**${title}** \`${label}\`${context.input ? ` — ${context.input}` : ''}`, contextLabel: label },
        params: {
          prompt: text,
          ...(run.temperature !== undefined ? { temperature: run.temperature } : {}),
          ...(run.maxTokens !== undefined ? { maxTokens: run.maxTokens } : {}),
        },
      };
    },
  };
}

/**
 * Keeps the action registry in step with the prompt registry: one action per prompt, replaced on every change.
 * The actions render in the registry's sandbox and ask through its approvals unless `services` says otherwise.
 */
export function syncPromptActions(prompts: PromptRegistry, actions: ActionRegistry, services: Partial<PromptRunServices> = {}): vscode.Disposable {
  const run: PromptRunServices = { sandbox: services.sandbox ?? prompts.sandbox, approvals: services.approvals ?? prompts.approvals };
  let registered: { dispose(): void }[] = [];
  const sync = (list: readonly ResolvedPrompt[]): void => {
    for (const r of registered) r.dispose();
    registered = list.map((p) => actions.register(promptAction(p, run)));
  };
  sync(prompts.all());
  const listener = prompts.onDidChange(sync);
  return new vscode.Disposable(() => {
    listener.dispose();
    for (const r of registered) r.dispose();
    registered = [];
  });
}

/**
 * Puts an answer in the editor for output: replace (in place of `range`, the selection the prompt ran on) or
 * insert (at the start of the line after `range`, or at the cursor when nothing was selected). The code
 * in the answer's fenced block is used when it has one. One edit, so one undo takes it back.
 */
export async function applyPromptOutput(editor: vscode.TextEditor, output: Exclude<OutputMode, 'chat'>, answer: string, range: vscode.Range): Promise<boolean> {
  const code = extractCode(answer);
  if (output === 'replace' && !range.isEmpty) return editor.edit((e) => e.replace(range, code));
  const at = range.isEmpty ? range.start : new vscode.Position(range.end.line + (range.end.character === 0 ? 0 : 1), 0);
  const atEnd = at.line >= editor.document.lineCount;
  const position = atEnd ? editor.document.lineAt(editor.document.lineCount - 1).range.end : at;
  const text = range.isEmpty ? code : atEnd ? `\n${code}` : `${code}\n`;
  return editor.edit((e) => e.insert(position, text));
}
