/** The model shipped with MoeCode (models/moecode-coder.gguf beside the bundle or the source tree). */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

export const DEFAULT_MODEL_FILE = 'moecode-coder.gguf';

export function defaultModelPath(): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'models', DEFAULT_MODEL_FILE);
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}
