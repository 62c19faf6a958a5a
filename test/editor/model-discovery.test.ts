/**
 * The model picker's discovery on fake tool folders holding a generated tiny model: Ollama manifests
 * and blobs, the Hugging Face hub cache (snapshots as symlinks), LM Studio, llama.cpp's cache; and the
 * daemon's check on each model found (every problem of a file, and whether it fits the memory budget).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GgmlType } from '../../daemon/gguf/ggml-types';
import { meta, writeGguf } from '../../daemon/gguf/gguf-writer';
import { describeModel, findModels, modelSearchRoots, summaryLine } from '../../extension/models/model-discovery';
import { ensureModel } from '../../tools/modelgen/model-cache';
import { writeVariant, setMeta } from '../helpers/gguf-variants';

let home: string;
let tiny: string;

before(async () => {
  tiny = await ensureModel({ arch: 'qwen3moe', preset: 'tiny', weightType: 'F32' });
  home = mkdtempSync(join(tmpdir(), 'moecode-models-'));
  // Ollama: manifests/<registry>/<namespace>/<model>/<tag> → blobs/sha256-<digest>
  const ollama = join(home, '.ollama', 'models');
  mkdirSync(join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'tinymoe'), { recursive: true });
  mkdirSync(join(ollama, 'blobs'), { recursive: true });
  symlinkSync(tiny, join(ollama, 'blobs', 'sha256-abc123'));
  writeFileSync(
    join(ollama, 'manifests', 'registry.ollama.ai', 'library', 'tinymoe', 'latest'),
    JSON.stringify({ layers: [{ mediaType: 'application/vnd.ollama.image.template', digest: 'sha256:fff' }, { mediaType: 'application/vnd.ollama.image.model', digest: 'sha256:abc123' }] }),
  );
  // Hugging Face: models--org--name/snapshots/<rev>/<file> as symlinks into blobs
  const hf = join(home, '.cache', 'huggingface', 'hub', 'models--acme--Tiny-MoE-GGUF');
  mkdirSync(join(hf, 'blobs'), { recursive: true });
  mkdirSync(join(hf, 'snapshots', 'r1'), { recursive: true });
  symlinkSync(tiny, join(hf, 'blobs', 'deadbeef'));
  symlinkSync(join(hf, 'blobs', 'deadbeef'), join(hf, 'snapshots', 'r1', 'tiny-F32.gguf'));
  symlinkSync(join(hf, 'blobs', 'deadbeef'), join(hf, 'snapshots', 'r1', 'mmproj-tiny-F16.gguf'));
  // LM Studio: <publisher>/<repo>/<file>; a split model lists its first part only
  const lms = join(home, '.lmstudio', 'models', 'acme', 'tiny');
  mkdirSync(lms, { recursive: true });
  symlinkSync(tiny, join(lms, 'tiny-00001-of-00002.gguf'));
  writeFileSync(join(lms, 'tiny-00002-of-00002.gguf'), 'x');
  // llama.cpp cache: a model of an architecture MoeCode does not run, and a file that is not a GGUF
  const llamacpp = join(home, '.cache', 'llama.cpp');
  mkdirSync(llamacpp, { recursive: true });
  await writeGguf(join(llamacpp, 'other.gguf'), [meta.str('general.architecture', 'gemma3'), meta.str('general.name', 'Other'), meta.u32('general.file_type', 7)], [
    { name: 'token_embd.weight', dims: [32, 4], type: GgmlType.Q8_0, data: () => new Float32Array(128) },
  ]);
  writeFileSync(join(llamacpp, 'broken.gguf'), 'not a gguf at all');
});

after(() => rmSync(home, { recursive: true, force: true }));

test('search roots follow each tool’s environment variables before its defaults', () => {
  const roots = modelSearchRoots({ env: { OLLAMA_MODELS: '/o', HF_HUB_CACHE: '/hf', LLAMA_CACHE: '/lc' }, home: '/h', platform: 'linux' });
  const dirs = (source: string) => roots.filter((r) => r.source === source).map((r) => r.dir);
  assert.equal(dirs('ollama')[0], '/o');
  assert.equal(dirs('huggingface')[0], '/hf');
  assert.equal(dirs('llamacpp')[0], '/lc');
  assert.ok(dirs('lmstudio').includes('/h/.lmstudio/models'));
  assert.ok(modelSearchRoots({ env: {}, home: '/h', platform: 'darwin' }).some((r) => r.dir === '/h/Library/Caches/llama.cpp'));
});

test('finds the models of every tool under their names, skipping projectors and later split parts', async () => {
  const found = await findModels(modelSearchRoots({ env: {}, home, platform: 'linux' }));
  const byName = Object.fromEntries(found.map((m) => [m.name, m]));
  assert.deepEqual(found.map((m) => m.name).sort(), ['acme/Tiny-MoE-GGUF/tiny-F32.gguf', 'acme/tiny/tiny-00001-of-00002.gguf', 'broken.gguf', 'other.gguf', 'tinymoe:latest'].sort());
  assert.equal(byName['tinymoe:latest']!.source, 'ollama');
  assert.equal(byName['tinymoe:latest']!.path, join(home, '.ollama', 'models', 'blobs', 'sha256-abc123'));
  assert.equal(byName['acme/Tiny-MoE-GGUF/tiny-F32.gguf']!.source, 'huggingface');
  assert.equal(byName['acme/tiny/tiny-00001-of-00002.gguf']!.source, 'lmstudio');
});

test('describes a model from its GGUF header: architecture, quantisation, experts, size', async () => {
  const [m] = (await findModels(modelSearchRoots({ env: {}, home, platform: 'linux' }))).filter((f) => f.source === 'ollama');
  const s = await describeModel(m!);
  assert.equal(s.architecture, 'qwen3moe');
  assert.equal(s.supported, true, s.problem);
  assert.equal(s.quantization, 'F32');
  assert.ok(s.n_expert! > 1 && s.n_expert_used! >= 1 && s.n_expert_used! < s.n_expert!);
  assert.ok(s.bytes > 0);
  assert.match(summaryLine(s), new RegExp(`^qwen3moe · F32 · .+ · ${s.n_expert} experts, ${s.n_expert_used} active$`));
});

test('an unsupported architecture and a broken file are described, not thrown', async () => {
  const found = await findModels([{ source: 'llamacpp', dir: join(home, '.cache', 'llama.cpp') }]);
  const other = await describeModel(found.find((f) => f.name === 'other.gguf')!);
  assert.equal(other.supported, false);
  assert.equal(other.architecture, 'gemma3');
  assert.equal(other.quantization, 'Q8_0');
  assert.match(other.problem!, /architecture 'gemma3' is not supported/);
  // every problem, as the daemon's check reports them: the architecture, and a tokenizer it does not have
  assert.deepEqual(other.problems.map((p) => p.kind).sort(), ['architecture', 'tokenizer']);
  const broken = await describeModel(found.find((f) => f.name === 'broken.gguf')!);
  assert.equal(broken.supported, false);
  assert.match(broken.problem!, /not a readable GGUF/);
});

test('a model with several problems lists each, as the daemon would; one over the memory budget says what to lower', async () => {
  const several = join(home, 'several.gguf');
  // a ggml type no backend runs (I16 in place of an F16 tensor) and a tokenizer that cannot be built
  await writeVariant(several, { arch: 'qwen3moe', weightType: 'Q8_0', tensorTypes: { 'blk.0.attn_q.weight': 'F16' } }, {
    meta: (e) => setMeta(e, meta.str('tokenizer.ggml.model', 'bogus')),
    tensors: (t) => t.map((x) => (x.name === 'blk.0.attn_q.weight' ? { ...x, type: GgmlType.I16 } : x)),
  });
  const s = await describeModel({ source: 'folder', name: 'several.gguf', path: several });
  assert.equal(s.supported, false);
  assert.deepEqual(s.problems.map((p) => p.kind).sort(), ['tensor-type', 'tokenizer']);
  assert.match(s.problem!, /I16.*\(and 1 more problem: the tokenizer cannot be built/);

  const good = await describeModel({ source: 'folder', name: 'tiny', path: tiny });
  assert.equal(good.supported, true, good.problem);
  const small = await describeModel({ source: 'folder', name: 'tiny', path: tiny }, { memoryBudgetMb: 1 });
  assert.equal(small.supported, false);
  assert.deepEqual(small.problems.map((p) => p.kind), ['fit']);
  assert.match(small.problem!, /needs about \d+ MB .* but moecode\.gpu\.memoryBudget is 1 MB/);
});
