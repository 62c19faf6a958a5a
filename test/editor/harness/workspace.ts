/** A throwaway workspace folder for the editor tests, set to use a generated tiny model. */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureModel } from '../../../tools/modelgen/model-cache';

import { TEST_MODEL_SPEC } from '../../lsp/daemon-harness';

/** The LSP tests' generated model (Mixtral-layout llama, tiny, F32): varied greedy text, FIM and ChatML tokens. */
export const TINY_MODEL = TEST_MODEL_SPEC;

export async function prepareWorkspace(settings: Record<string, unknown> = {}, files: Record<string, string> = {}): Promise<{ dir: string; modelPath: string }> {
  const modelPath = await ensureModel(TINY_MODEL);
  const dir = mkdtempSync(join(tmpdir(), 'moecode-ws-'));
  mkdirSync(join(dir, '.vscode'));
  writeFileSync(
    join(dir, '.vscode', 'settings.json'),
    JSON.stringify({ 'moecode.model.path': modelPath, 'moecode.completion.temperature': 0, 'moecode.chat.temperature': 0, 'moecode.chat.maxTokens': 128, ...settings }, null, 2),
  );
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return { dir, modelPath };
}
