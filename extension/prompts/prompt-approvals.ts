/**
 * Asking before a workspace prompt file edits the user's document. A prompt with `output: replace` or `insert`
 * puts the model's answer into the editor; when the file comes from the workspace (written by whoever wrote
 * the repository), it may also carry a built-in's name, so "Explain Selection" could silently become "replace
 * my selection". The first run of each version of such a file asks, in a modal dialog that names the file and
 * what it will do; the answer is remembered per workspace (VS Code's workspaceState) for that exact version.
 * User and built-in prompts never ask: the user wrote or installed them.
 */
import { createHash } from 'node:crypto';
import * as vscode from 'vscode';
import type { ResolvedPrompt } from './prompt-set';

/** Where approvals are kept (vscode.Memento: context.workspaceState). */
export interface ApprovalStore {
  get<T>(key: string): T | undefined;
  update(key: string, value: unknown): Thenable<void>;
}

/** Asks the user whether to run the prompt; true to run. */
export type AskToRun = (prompt: ResolvedPrompt) => Promise<boolean>;

const STORE_KEY = 'moecode.prompts.approvedEdits';

/** Whether running this prompt needs the user's yes first. */
export function needsApproval(prompt: Pick<ResolvedPrompt, 'origin' | 'output'>): boolean {
  return prompt.origin === 'workspace' && prompt.output !== 'chat';
}

/** What the prompt does to the document, for titles and dialogs. */
export function editDescription(output: ResolvedPrompt['output']): string | undefined {
  if (output === 'replace') return 'replaces your selection with the answer';
  if (output === 'insert') return 'inserts the answer into your file';
  return undefined;
}

export class PromptApprovals {
  private readonly memory = new Map<string, string>();

  constructor(
    private readonly store?: ApprovalStore,
    private readonly ask: AskToRun = askInModal,
  ) {}

  /** Resolves true when the prompt may run: it needs no approval, this version was approved before, or the user says yes now. */
  async approve(prompt: ResolvedPrompt): Promise<boolean> {
    if (!needsApproval(prompt)) return true;
    const version = fingerprint(prompt);
    if (this.approved()[prompt.uri] === version) return true;
    if (!(await this.ask(prompt))) return false;
    this.memory.set(prompt.uri, version);
    await this.store?.update(STORE_KEY, { ...this.approved(), [prompt.uri]: version });
    return true;
  }

  private approved(): Record<string, string> {
    return { ...(this.store?.get<Record<string, string>>(STORE_KEY) ?? {}), ...Object.fromEntries(this.memory) };
  }
}

/** A version of a prompt: what it sends and where the answer goes. Editing the file asks again. */
function fingerprint(prompt: ResolvedPrompt): string {
  const { name, output, selection, languages, userTemplate, systemTemplate } = prompt;
  return createHash('sha256').update(JSON.stringify({ name, output, selection, languages, userTemplate, systemTemplate })).digest('hex');
}

async function askInModal(prompt: ResolvedPrompt): Promise<boolean> {
  const file = vscode.workspace.asRelativePath(vscode.Uri.parse(prompt.uri));
  const run = prompt.output === 'replace' ? 'Replace Selection' : 'Insert Answer';
  const open = 'Open Prompt File';
  const hides = prompt.overridesBuiltin ? ` It takes the place of the built-in "${prompt.overridesBuiltin.title}".` : '';
  const pick = await vscode.window.showWarningMessage(
    `"${prompt.title}" is a prompt file of this workspace (${file}) and ${editDescription(prompt.output)}.`,
    {
      modal: true,
      detail: `Prompt files in .moecode/prompts come with the workspace, not from you or MoeCode.${hides} MoeCode asks once for each version of the file.`,
    },
    run,
    open,
  );
  if (pick === open) await vscode.window.showTextDocument(vscode.Uri.parse(prompt.uri));
  return pick === run;
}
