/**
 * "MoeCode: Select Model": a quick pick of GGUF models already on disk (with architecture, size and
 * quantisation from their headers, and the daemon's own check: a model it cannot run is marked and says
 * why) plus a file picker; the choice goes into `moecode.model.path`, and the daemon reloads the model
 * when it reads the changed setting. Choosing a model the check refused asks first, listing every reason.
 */
import { homedir } from 'node:os';
import * as vscode from 'vscode';
import type { Config } from '../config';
import { SOURCE_LABELS, describeModel, findModels, modelSearchRoots, summaryLine, type ModelSummary, type SearchRoot } from './model-discovery';

interface ModelItem extends vscode.QuickPickItem {
  path?: string;
  browse?: boolean;
  useDefault?: boolean;
  /** The check's verdict on the model, for the confirmation. */
  summary?: ModelSummary;
}

export const USE_ANYWAY = 'Use It Anyway';
/** Most reasons a confirmation lists (the rest are counted). */
const MAX_REASONS = 8;

/** A model the check refused: asks (modal) with every reason whether to switch to it anyway. */
export async function confirmUnsupported(s: ModelSummary): Promise<boolean> {
  const reasons = s.problems.length ? s.problems.map((p) => `• ${p.message}`) : [`• ${s.problem ?? 'not supported'}`];
  const shown = reasons.slice(0, MAX_REASONS);
  if (reasons.length > shown.length) shown.push(`… and ${reasons.length - shown.length} more`);
  const go = await vscode.window.showWarningMessage(`MoeCode cannot run ${s.name} as it is:`, { modal: true, detail: shown.join('\n') }, USE_ANYWAY);
  return go === USE_ANYWAY;
}

export async function selectModel(config: Config, extensionUri: vscode.Uri): Promise<string | undefined> {
  const pick = vscode.window.createQuickPick<ModelItem>();
  pick.title = 'MoeCode: Select Model';
  pick.placeholder = 'Pick a GGUF model, or browse for a file';
  pick.matchOnDescription = true;
  pick.matchOnDetail = true;
  pick.busy = true;
  const current = config.modelPath;
  const fixed: ModelItem[] = [
    { label: '$(folder-opened) Browse for a .gguf file…', browse: true, alwaysShow: true },
    { label: '$(package) Default model', description: current ? '' : '(current)', detail: 'The model shipped with MoeCode (or MOECODE_MODEL)', useDefault: true, alwaysShow: true },
  ];
  pick.items = fixed;
  pick.show();

  const roots: SearchRoot[] = [{ source: 'extension', dir: vscode.Uri.joinPath(extensionUri, 'models').fsPath }, ...modelSearchRoots({ env: process.env, home: homedir(), platform: process.platform })];
  const load = (async () => {
    const found = await findModels(roots);
    const summaries: ModelSummary[] = [];
    const memoryBudgetMb = vscode.workspace.getConfiguration('moecode').get<number>('gpu.memoryBudget') ?? 0;
    for (const m of found) summaries.push(await describeModel(m, { memoryBudgetMb }));
    const items: ModelItem[] = [...fixed];
    let lastSource = '';
    for (const s of summaries) {
      if (s.source !== lastSource) {
        items.push({ label: SOURCE_LABELS[s.source], kind: vscode.QuickPickItemKind.Separator });
        lastSource = s.source;
      }
      items.push({
        label: `${s.supported ? '' : '$(warning) '}${s.name}${s.path === current ? ' (current)' : ''}`,
        description: summaryLine(s),
        detail: s.supported ? s.path : `${s.problems.length > 1 ? `${s.problems.length} problems: ` : ''}${s.problems[0]?.message ?? s.problem ?? 'not supported'} — ${s.path}`,
        path: s.path,
        summary: s,
      });
    }
    if (summaries.length === 0) items.push({ label: 'No GGUF models found in the Ollama, LM Studio, Hugging Face or llama.cpp folders', kind: vscode.QuickPickItemKind.Separator });
    return items;
  })();
  load.then(
    (items) => {
      pick.items = items;
      pick.busy = false;
    },
    (e) => {
      pick.busy = false;
      void vscode.window.showWarningMessage(`MoeCode: looking for models failed: ${(e as Error).message}`);
    },
  );

  const chosen = await new Promise<ModelItem | undefined>((resolve) => {
    pick.onDidAccept(() => resolve(pick.selectedItems[0]));
    pick.onDidHide(() => resolve(undefined));
  });
  pick.dispose();
  if (!chosen) return undefined;
  let path: string | undefined;
  if (chosen.browse) {
    const uris = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Use Model', filters: { 'GGUF models': ['gguf'] }, title: 'MoeCode: Select a GGUF model' });
    if (!uris?.[0]) return undefined;
    path = uris[0].fsPath;
    const summary = await describeModel({ source: 'folder', name: path, path }, { memoryBudgetMb: vscode.workspace.getConfiguration('moecode').get<number>('gpu.memoryBudget') ?? 0 });
    if (!summary.supported && !(await confirmUnsupported(summary))) return undefined;
  } else if (chosen.useDefault) {
    path = '';
  } else {
    if (chosen.summary && !chosen.summary.supported && !(await confirmUnsupported(chosen.summary))) return undefined;
    path = chosen.path;
  }
  if (path === undefined) return undefined;
  await config.set('model.path', path);
  return path;
}
