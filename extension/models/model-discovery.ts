/**
 * Finds GGUF models already on disk — Ollama's blob store, LM Studio's models folder, the Hugging Face
 * hub cache, llama.cpp's download cache — and describes each from its GGUF header (architecture, size,
 * quantisation, experts), with the same check the daemon runs before it loads a model
 * (daemon/model/model-check.ts: every problem, not only the first; and whether it fits the memory budget
 * at all, daemon/model/fit-plan.ts). Plain Node (no `vscode`, no engine code that needs Node addons):
 * tested in test/editor/model-discovery.test.ts.
 */
import { existsSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { ggmlTypeName } from '../../daemon/gguf/ggml-types';
import { openGguf } from '../../daemon/gguf/gguf-reader';
import { DEFAULT_MAX_BATCH, DEFAULT_SLOTS, planFit } from '../../daemon/model/fit-plan';
import { residentWeightBytes } from '../../daemon/model/memory-plan';
import { anyBackendLimits, memoryBudget } from '../../daemon/model/memory-budget';
import { checkModel } from '../../daemon/model/model-check';
import { describeProblems, type ModelProblem } from '../../daemon/model/model-problems';

export type ModelSource = 'ollama' | 'lmstudio' | 'huggingface' | 'llamacpp' | 'extension' | 'folder';

export const SOURCE_LABELS: Record<ModelSource, string> = {
  ollama: 'Ollama',
  lmstudio: 'LM Studio',
  huggingface: 'Hugging Face cache',
  llamacpp: 'llama.cpp cache',
  extension: 'Shipped with MoeCode',
  folder: 'Folder',
};

export interface SearchRoot {
  source: ModelSource;
  dir: string;
}

export interface FoundModel {
  source: ModelSource;
  /** What the user knows the model as: "qwen3:30b-a3b", "Qwen/Qwen3-30B-A3B-GGUF/…Q4_K_M.gguf", a file name. */
  name: string;
  path: string;
}

export interface ModelSummary extends FoundModel {
  /** Size on disk: every part of a split model together. */
  bytes: number;
  /** Files of a split model (absent for a single file). */
  parts?: number;
  architecture?: string;
  /** general.name */
  modelName?: string;
  quantization?: string;
  n_expert?: number;
  n_expert_used?: number;
  n_layer?: number;
  n_ctx_train?: number;
  /** MoeCode can run it: the daemon's check found no problem. */
  supported: boolean;
  /** Why not (every problem, in one sentence), or why the header could not be read. */
  problem?: string;
  /** Every problem the check found, typed as the daemon reports them. */
  problems: ModelProblem[];
  /** Facts that are not blockers ("Q4_K: the WebGPU backend has no kernel for it, …"). */
  notes: string[];
}

export interface DescribeOptions {
  /** moecode.gpu.memoryBudget in MB (0: automatic, from this machine's free memory). */
  memoryBudgetMb?: number;
}

interface Env {
  env: NodeJS.ProcessEnv;
  home: string;
  platform: NodeJS.Platform;
}

/** Where each tool keeps its models, following each tool's own environment variables and defaults. */
export function modelSearchRoots({ env, home, platform }: Env): SearchRoot[] {
  const roots: SearchRoot[] = [];
  const add = (source: ModelSource, dir: string | undefined) => {
    if (dir && !roots.some((r) => r.dir === dir)) roots.push({ source, dir });
  };
  // Ollama: OLLAMA_MODELS, else ~/.ollama/models (also the Linux service's /usr/share/ollama/.ollama/models)
  add('ollama', env.OLLAMA_MODELS);
  add('ollama', join(home, '.ollama', 'models'));
  if (platform === 'linux') add('ollama', '/usr/share/ollama/.ollama/models');
  // LM Studio: ~/.lmstudio/models (0.3+), ~/.cache/lm-studio/models (older)
  add('lmstudio', join(home, '.lmstudio', 'models'));
  add('lmstudio', join(home, '.cache', 'lm-studio', 'models'));
  // Hugging Face hub cache: HF_HUB_CACHE, else HF_HOME/hub, else XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub
  add('huggingface', env.HF_HUB_CACHE ?? env.HUGGINGFACE_HUB_CACHE);
  add('huggingface', env.HF_HOME ? join(env.HF_HOME, 'hub') : undefined);
  add('huggingface', join(env.XDG_CACHE_HOME ?? join(home, '.cache'), 'huggingface', 'hub'));
  // llama.cpp's -hf downloads: LLAMA_CACHE, else the platform's cache folder
  add('llamacpp', env.LLAMA_CACHE);
  if (platform === 'darwin') add('llamacpp', join(home, 'Library', 'Caches', 'llama.cpp'));
  else if (platform === 'win32') add('llamacpp', env.LOCALAPPDATA ? join(env.LOCALAPPDATA, 'llama.cpp') : undefined);
  else add('llamacpp', join(env.XDG_CACHE_HOME ?? join(home, '.cache'), 'llama.cpp'));
  return roots;
}

const SPLIT_PART = /-(\d{5})-of-(\d{5})\.gguf$/i;

/** GGUF files worth offering: not vision projectors, and only the first part of a split model (which stands for all). */
function isModelFile(name: string): boolean {
  if (!name.toLowerCase().endsWith('.gguf')) return false;
  if (/^mmproj/i.test(name)) return false;
  const split = SPLIT_PART.exec(name);
  return !split || split[1] === '00001';
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** *.gguf files under `dir`, at most `depth` folders deep (symlinks followed, as the HF cache uses them). */
async function ggufFilesUnder(dir: string, depth: number): Promise<string[]> {
  const out: string[] = [];
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return out;
  }
  for (const name of entries.sort()) {
    if (name.startsWith('.')) continue;
    const p = join(dir, name);
    if (isModelFile(name)) {
      try {
        if ((await stat(p)).isFile()) out.push(p);
      } catch {
        /* dangling link */
      }
    } else if (depth > 0 && (await isDir(p))) {
      out.push(...(await ggufFilesUnder(p, depth - 1)));
    }
  }
  return out;
}

async function ollamaModels(root: string): Promise<FoundModel[]> {
  const manifests = join(root, 'manifests');
  const out: FoundModel[] = [];
  const walk = async (dir: string, parts: string[]): Promise<void> => {
    let entries: string[];
    try {
      entries = await readdir(dir);
    } catch {
      return;
    }
    for (const name of entries.sort()) {
      const p = join(dir, name);
      if (await isDir(p)) {
        if (parts.length < 3) await walk(p, [...parts, name]);
        continue;
      }
      // manifests/<registry>/<namespace>/<model>/<tag>
      if (parts.length !== 3) continue;
      try {
        const manifest = JSON.parse(await readFile(p, 'utf8')) as { layers?: { mediaType?: string; digest?: string }[] };
        const layer = manifest.layers?.find((l) => l.mediaType === 'application/vnd.ollama.image.model');
        if (!layer?.digest) continue;
        const blob = join(root, 'blobs', layer.digest.replace(':', '-'));
        if (!existsSync(blob)) continue;
        const [registry, namespace, model] = parts as [string, string, string];
        const short = namespace === 'library' && registry === 'registry.ollama.ai' ? model : registry === 'registry.ollama.ai' ? `${namespace}/${model}` : `${registry}/${namespace}/${model}`;
        out.push({ source: 'ollama', name: `${short}:${name}`, path: blob });
      } catch {
        /* not a manifest */
      }
    }
  };
  await walk(manifests, []);
  return out;
}

async function huggingFaceModels(hub: string): Promise<FoundModel[]> {
  const out: FoundModel[] = [];
  let repos: string[];
  try {
    repos = (await readdir(hub)).filter((n) => n.startsWith('models--')).sort();
  } catch {
    return out;
  }
  for (const repo of repos) {
    const id = repo.slice('models--'.length).split('--').join('/');
    const snapshots = join(hub, repo, 'snapshots');
    let revs: string[];
    try {
      revs = await readdir(snapshots);
    } catch {
      continue;
    }
    const seen = new Set<string>();
    for (const rev of revs.sort()) {
      for (const file of await ggufFilesUnder(join(snapshots, rev), 3)) {
        const rel = file.slice(join(snapshots, rev).length + 1);
        if (seen.has(rel)) continue; // the same file in an older revision
        seen.add(rel);
        out.push({ source: 'huggingface', name: `${id}/${rel}`, path: file });
      }
    }
  }
  return out;
}

/** Every model found under the roots, in root order, each path once. */
export async function findModels(roots: readonly SearchRoot[]): Promise<FoundModel[]> {
  const out: FoundModel[] = [];
  const seen = new Set<string>();
  for (const root of roots) {
    if (!(await isDir(root.dir))) continue;
    let found: FoundModel[];
    switch (root.source) {
      case 'ollama':
        found = await ollamaModels(root.dir);
        break;
      case 'huggingface':
        found = await huggingFaceModels(root.dir);
        break;
      default: {
        const depth = root.source === 'lmstudio' ? 3 : root.source === 'llamacpp' ? 1 : 2;
        found = (await ggufFilesUnder(root.dir, depth)).map((path) => ({
          source: root.source,
          name: root.source === 'lmstudio' ? path.slice(root.dir.length + 1).split(/[\\/]/).join('/') : basename(path),
          path,
        }));
      }
    }
    for (const m of found) {
      if (seen.has(m.path)) continue;
      seen.add(m.path);
      out.push(m);
    }
  }
  return out;
}

/** llama.cpp's `general.file_type` (enum llama_ftype) names. */
const FILE_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S', 12: 'Q3_K_M', 13: 'Q3_K_L',
  14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K', 19: 'IQ2_XXS', 20: 'IQ2_XS', 21: 'Q2_K_S', 22: 'IQ3_XS',
  23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL', 26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S', 29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M',
  32: 'BF16', 36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4_MOE',
};

export function fileTypeName(ftype: number): string | undefined {
  return FILE_TYPES[ftype];
}

/** A summary that failed before the header could be checked. */
function unreadable(model: FoundModel, bytes: number, message: string): ModelSummary {
  return { ...model, bytes, supported: false, problem: message, problems: [{ kind: 'file', code: 'NOT_FOUND', message }], notes: [] };
}

/** Reads the GGUF header of a found model (never its tensor data) and runs the daemon's checks on it. */
export async function describeModel(model: FoundModel, opts: DescribeOptions = {}): Promise<ModelSummary> {
  let bytes = 0;
  try {
    bytes = (await stat(model.path)).size;
  } catch (e) {
    return unreadable(model, bytes, `cannot read: ${(e as Error).message}`);
  }
  let file;
  try {
    file = await openGguf(model.path);
  } catch (e) {
    return unreadable(model, bytes, `not a readable GGUF: ${(e as Error).message}`);
  }
  bytes = file.totalSize;
  try {
    const meta = file.metadata;
    const architecture = typeof meta.get('general.architecture') === 'string' ? (meta.get('general.architecture') as string) : undefined;
    const modelName = typeof meta.get('general.name') === 'string' ? (meta.get('general.name') as string) : undefined;
    const ftype = meta.get('general.file_type');
    let quantization = typeof ftype === 'number' ? fileTypeName(ftype) : undefined;
    if (!quantization) {
      // the type holding most of the bytes among the weight matrices
      const byType = new Map<number, number>();
      for (const t of file.tensors) if (t.dims.length >= 2) byType.set(t.type, (byType.get(t.type) ?? 0) + Math.max(0, t.byteSize));
      const top = [...byType].sort((a, b) => b[1] - a[1])[0];
      if (top) quantization = ggmlTypeName(top[0]);
    }
    const num = (key: string) => (typeof meta.get(key) === 'number' ? (meta.get(key) as number) : undefined);
    const summary: ModelSummary = {
      ...model,
      bytes,
      ...(file.parts.length > 1 ? { parts: file.parts.length } : {}),
      architecture,
      modelName,
      quantization,
      n_expert: architecture ? num(`${architecture}.expert_count`) : undefined,
      n_expert_used: architecture ? num(`${architecture}.expert_used_count`) : undefined,
      n_layer: architecture ? num(`${architecture}.block_count`) : undefined,
      n_ctx_train: architecture ? num(`${architecture}.context_length`) : undefined,
      supported: false,
      problems: [],
      notes: [],
    };
    const check = checkModel(file);
    const problems = [...check.problems];
    const config = check.config;
    if (config) {
      summary.n_expert = config.n_expert;
      summary.n_expert_used = config.n_expert_used;
      summary.n_layer = config.n_layer;
      summary.n_ctx_train = config.n_ctx_train;
      // the smallest plan the daemon would accept: one slot of an automatic context
      const budget = memoryBudget(Math.max(0, opts.memoryBudgetMb ?? 0) * 1024 * 1024, 'moecode.gpu.memoryBudget', check.weightBytes);
      const fit = planFit(config, residentWeightBytes(file, 'any'), anyBackendLimits(budget), { nCtx: 0, maxSlots: DEFAULT_SLOTS, minSlots: 1, maxBatch: DEFAULT_MAX_BATCH, allLogits: false, kvType: 'f16' });
      if (!fit.ok) problems.push(...fit.problems);
    }
    summary.problems = problems;
    summary.notes = check.notes;
    summary.supported = problems.length === 0;
    if (problems.length > 0) summary.problem = describeProblems(problems);
    return summary;
  } finally {
    await file.close();
  }
}

export function formatBytes(n: number): string {
  if (n >= 2 ** 30) return `${(n / 2 ** 30).toFixed(1)} GB`;
  if (n >= 2 ** 20) return `${(n / 2 ** 20).toFixed(0)} MB`;
  return `${Math.max(1, Math.round(n / 1024))} KB`;
}

/** One line for a quick pick: "qwen3moe · Q8_0 · 1.2 GB · 64 experts, 8 active". */
export function summaryLine(s: ModelSummary): string {
  const parts = [s.architecture ?? 'unknown architecture', s.quantization, formatBytes(s.bytes), s.parts ? `${s.parts} files` : undefined];
  if (s.n_expert) parts.push(`${s.n_expert} experts, ${s.n_expert_used ?? '?'} active`);
  return parts.filter(Boolean).join(' · ');
}
