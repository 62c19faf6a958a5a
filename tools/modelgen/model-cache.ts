/**
 * Generated models cached by spec: `.cache/models/<specHash>.gguf` (plus `<specHash>.json`, the
 * resolved spec, for humans) under the repository root, shared by tests and benchmarks. A split spec is
 * cached as its parts `<specHash>-0000k-of-0000n.gguf`; its path is the first part's.
 */
import { existsSync } from 'node:fs';
import { mkdir, rename, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { splitPartPath, splitPartPaths } from '../../daemon/gguf/gguf-split.js';
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
  const n = spec.split_parts;
  const path = n === undefined ? join(modelCacheDir(), `${hash}.gguf`) : splitPartPath(join(modelCacheDir(), hash), 0, n);
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
  // private names, renamed into place when complete (the first part last): concurrent generators never
  // see half a model
  const n = spec.split_parts;
  const hash = specHash(spec);
  const tag = `${process.pid}.${Math.random().toString(36).slice(2)}`;
  const tmp = n === undefined ? `${path}.${tag}.part` : splitPartPath(join(dirname(path), `${hash}.${tag}.part`), 0, n);
  const finals = n === undefined ? [path] : splitPartPaths(path, 0, n)!;
  let written: string[] = [];
  try {
    written = await generateModel(spec, tmp);
    await writeFile(join(dirname(path), `${hash}.json`), JSON.stringify(spec, null, 2) + '\n');
    for (let i = written.length - 1; i >= 0; i--) await rename(written[i]!, finals[i]!);
  } catch (e) {
    await Promise.all([tmp, ...written].map((p) => unlink(p).catch(() => undefined)));
    throw e;
  }
  return path;
}
