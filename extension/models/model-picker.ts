/**
 * "MoeCode: Select Model": a quick pick of GGUF models already on disk (with architecture, size and
 * quantisation from their headers) plus a file picker; the choice goes into `moecode.model.path`,
 * and the daemon reloads the model when it reads the changed setting.
 */
import { homedir } from 'node:os';
import * as vscode from 'vscode';
import type { Config } from '../config';
import { SOURCE_LABELS, describeModel, findModels, modelSearchRoots, summaryLine, type ModelSummary, type SearchRoot } from './model-discovery';

interface ModelItem extends vscode.QuickPickItem {
  path?: string;
  browse?: boolean;
  useDefault?: boolean;
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
    for (const m of found) summaries.push(await describeModel(m));
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
        detail: s.supported ? s.path : `${s.problem ?? 'not supported'} — ${s.path}`,
        path: s.path,
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
    const summary = await describeModel({ source: 'folder', name: path, path });
    if (!summary.supported) {
      const go = await vscode.window.showWarningMessage(`MoeCode may not run this model: ${summary.problem}`, 'Use It Anyway');
      if (go !== 'Use It Anyway') return undefined;
    }
  } else if (chosen.useDefault) {
    path = '';
  } else {
    path = chosen.path;
  }
  if (path === undefined) return undefined;
  await config.set('model.path', path);
  return path;
}
