/**
 * A throwaway workspace folder for the editor tests: set to use a generated tiny model, or (model: 'shipped')
 * with no model configured at all, so the extension falls back to the model MoeCode ships.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { defaultModelPath } from '../../../daemon/cli/default-model';
import { ensureModel } from '../../../tools/modelgen/model-cache';

import { TEST_MODEL_SPEC } from '../../lsp/daemon-harness';

/** The LSP tests' generated model (Mixtral-layout llama, tiny, F32): varied greedy text, FIM and ChatML tokens. */
export const TINY_MODEL = TEST_MODEL_SPEC;

/** The shipped default model (models/moecode-coder.gguf), or a reason it is missing. */
export function shippedModel(): string {
  const path = defaultModelPath();
  if (!path) throw new Error('models/moecode-coder.gguf is missing from the checkout');
  return path;
}

export async function prepareWorkspace(
  settings: Record<string, unknown> = {},
  files: Record<string, string> = {},
  opts: { model?: 'tiny' | 'shipped' } = {},
): Promise<{ dir: string; modelPath: string }> {
  const shipped = opts.model === 'shipped';
  const modelPath = shipped ? shippedModel() : await ensureModel(TINY_MODEL);
  const dir = mkdtempSync(join(tmpdir(), 'moecode-ws-'));
  mkdirSync(join(dir, '.vscode'));
  const modelSetting = shipped ? {} : { 'moecode.model.path': modelPath };
  writeFileSync(
    join(dir, '.vscode', 'settings.json'),
    JSON.stringify({ ...modelSetting, 'moecode.completion.temperature': 0, 'moecode.chat.temperature': 0, 'moecode.chat.maxTokens': 128, ...settings }, null, 2),
  );
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return { dir, modelPath };
}
