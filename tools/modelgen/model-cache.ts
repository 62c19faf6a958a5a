/**
 * Generated models cached by spec: `.cache/models/<specHash>.gguf` (plus `<specHash>.json`, the
 * resolved spec, for humans) under the repository root, shared by tests and benchmarks.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateModel } from './generate-model.js';
import { resolveSpec, specHash } from './model-spec.js';
import type { ModelSpec, ModelSpecInput } from './model-spec.js';

const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where generated models live; override with MOECODE_MODEL_CACHE. */
export function modelCacheDir(): string {
  return process.env.MOECODE_MODEL_CACHE ?? join(REPO_ROOT, '.cache', 'models');
}

const inFlight = new Map<string, Promise<string>>();

/** Path of the cached model for `spec`, generating it first if absent. Safe across processes. */
export function ensureModel(input: ModelSpec | ModelSpecInput): Promise<string> {
  const spec = resolveSpec(input);
  const hash = specHash(spec);
  const path = join(modelCacheDir(), `${hash}.gguf`);
  if (existsSync(path)) return Promise.resolve(path);
  let p = inFlight.get(hash);
  if (!p) {
    p = generateInto(spec, path).finally(() => inFlight.delete(hash));
    inFlight.set(hash, p);
  }
  return p;
}

async function generateInto(spec: ModelSpec, path: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true });
  // a private name, renamed into place when complete: concurrent generators never see half a file
  const tmp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.part`;
  try {
    await generateModel(spec, tmp);
    await writeFile(path.replace(/\.gguf$/, '.json'), JSON.stringify(spec, null, 2) + '\n');
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  return path;
}
