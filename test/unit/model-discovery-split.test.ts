/**
 * Model discovery (extension/models/model-discovery.ts) of a split model: listed once (its first part),
 * described from all its parts with their total size; a set with a missing part is described with a
 * problem naming that part, not thrown.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { splitPartPath, splitPartPaths } from '../../daemon/gguf/gguf-split.js';
import { describeModel, findModels, summaryLine } from '../../extension/models/model-discovery.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

let home = '';
let parts: string[] = [];

before(async () => {
  home = await mkdtemp(join(tmpdir(), 'moecode-split-models-'));
  const first = await ensureModel({ arch: 'qwen2', split_parts: 3 });
  parts = splitPartPaths(first, 0, 3)!;
  // LM Studio layout: publisher/repo/files; a complete set and one without its last part
  for (const [repo, n] of [['whole', 3], ['broken', 2]] as const) {
    const d = join(home, 'acme', repo);
    await mkdir(d, { recursive: true });
    for (let i = 0; i < n; i++) await symlink(parts[i]!, splitPartPath(join(d, 'coder-Q8_0'), i, 3));
  }
});
after(() => rm(home, { recursive: true, force: true }));

test('a split model is listed once and described with the size of all its parts', async () => {
  const found = await findModels([{ source: 'lmstudio', dir: home }]);
  assert.deepEqual(found.map((m) => m.name).sort(), ['acme/broken/coder-Q8_0-00001-of-00003.gguf', 'acme/whole/coder-Q8_0-00001-of-00003.gguf']);
  const whole = await describeModel(found.find((m) => m.name.startsWith('acme/whole/'))!);
  const total = (await Promise.all(parts.map((p) => stat(p)))).reduce((n, s) => n + s.size, 0);
  assert.equal(whole.supported, true, whole.problem);
  assert.equal(whole.architecture, 'qwen2');
  assert.equal(whole.parts, 3);
  assert.equal(whole.bytes, total);
  assert.ok(whole.bytes > (await stat(parts[0]!)).size);
  assert.match(summaryLine(whole), /^qwen2 · F32 · .+ · 3 files$/);
});

test('a split model missing a part is described with a problem naming it', async () => {
  const [broken] = (await findModels([{ source: 'lmstudio', dir: home }])).filter((m) => m.name.startsWith('acme/broken/'));
  const s = await describeModel(broken!);
  assert.equal(s.supported, false);
  assert.match(s.problem!, /part 3 of 3/);
  assert.match(s.problem!, /coder-Q8_0-00003-of-00003\.gguf/);
});
