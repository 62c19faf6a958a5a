/**
 * Split GGUF models (daemon/gguf/gguf-split*.ts, writeGgufSplit): written as gguf-split does, opened as
 * one model from the path of any part, tensor data read from the right part (the same bytes as the
 * unsplit file), and every broken set — a missing part, a part of another set, a renamed file, a wrong
 * tensor count, a tensor in two parts — refused with a typed error naming the file. `moecode info` on a
 * split model reports one model and its total size.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFile, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { GgmlType, GgufValueType } from '../../daemon/gguf/ggml-types.js';
import { GgufError } from '../../daemon/gguf/gguf-error.js';
import { openGguf, openGgufFile, readTensorBytes } from '../../daemon/gguf/gguf-reader.js';
import { splitNameOf, splitPartPath, splitPartPaths, splitPrefix } from '../../daemon/gguf/gguf-split.js';
import { meta, writeGguf, writeGgufSplit, type GgufWriteTensor } from '../../daemon/gguf/gguf-writer.js';

const ROOT = resolve(__dirname, '..', '..');
let dir = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gguf-split-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

const isErr = (code: string, ...res: RegExp[]) => (e: unknown) => {
  assert.ok(e instanceof GgufError, `expected GgufError, got ${String(e)}`);
  assert.equal(e.code, code, e.message);
  for (const re of res) assert.match(e.message, re);
  return true;
};

const METADATA = [meta.str('general.architecture', 'llama'), meta.str('general.name', 'split-test'), meta.u32('llama.block_count', 3)];

/** Eight tensors of different sizes and types with distinct contents. */
function tensors(): GgufWriteTensor[] {
  return Array.from({ length: 8 }, (_, i) => ({
    name: `t${i}.weight`,
    dims: [32 * (1 + (i % 3)), 2 + i],
    type: i % 2 ? GgmlType.Q8_0 : GgmlType.F32,
    data: () => Float32Array.from({ length: 32 * (1 + (i % 3)) * (2 + i) }, (_, j) => Math.sin(i * 1000 + j)),
  }));
}

async function writeSet(name: string, parts = 3, list = tensors()): Promise<string[]> {
  return writeGgufSplit(join(dir, name), METADATA, list, parts);
}

test('part names follow llama_split_path / llama_split_prefix', () => {
  assert.equal(splitPartPath('/m/grok-1-Q4_0', 0, 9), '/m/grok-1-Q4_0-00001-of-00009.gguf');
  assert.equal(splitPrefix('/m/grok-1-Q4_0-00003-of-00009.gguf', 2, 9), '/m/grok-1-Q4_0');
  assert.equal(splitPrefix('/m/grok-1-Q4_0-00003-of-00009.gguf', 0, 9), undefined, 'the name must be the part it says it is');
  assert.deepEqual(splitNameOf('/m/x-00002-of-00003.gguf'), { part: 2, count: 3 });
  assert.equal(splitNameOf('/m/x.gguf'), undefined);
  assert.deepEqual(splitPartPaths('/m/x-00002-of-00003.gguf', 1, 3), ['/m/x-00001-of-00003.gguf', '/m/x-00002-of-00003.gguf', '/m/x-00003-of-00003.gguf']);
});

test('writeGgufSplit: metadata and split.tensors.count in the first part only, split.no/split.count in every part, every part holds tensors', async () => {
  const paths = await writeSet('w');
  assert.deepEqual(paths.map((p) => basename(p)), ['w-00001-of-00003.gguf', 'w-00002-of-00003.gguf', 'w-00003-of-00003.gguf']);
  let total = 0;
  for (const [i, p] of paths.entries()) {
    const f = await openGgufFile(p);
    try {
      assert.equal(f.metadata.get('split.no'), i);
      assert.equal(f.metadata.get('split.count'), 3);
      assert.equal(f.metadataTypes.get('split.no'), GgufValueType.UINT16);
      assert.equal(f.metadataTypes.get('split.count'), GgufValueType.UINT16);
      assert.equal(f.metadata.has('general.architecture'), i === 0);
      assert.equal(f.metadata.has('split.tensors.count'), i === 0);
      if (i === 0) assert.equal(f.metadataTypes.get('split.tensors.count'), GgufValueType.INT32);
      assert.ok(f.tensors.length > 0, `part ${i + 1} holds no tensor`);
      total += f.tensors.length;
    } finally {
      await f.close();
    }
  }
  assert.equal(total, 8);
  await assert.rejects(writeGgufSplit(join(dir, 'bad'), METADATA, tensors().slice(0, 2), 3), isErr('BAD_ARGUMENT', /2 tensors cannot fill 3 parts/));
  await assert.rejects(writeGgufSplit(join(dir, 'bad'), [...METADATA, meta.u16('split.no', 0)], tensors(), 3), isErr('BAD_ARGUMENT', /split\.\* keys/));
});

test('opened from any part: one model, the first part’s metadata, every tensor with its part, the same bytes as the unsplit file', async () => {
  const paths = await writeSet('m');
  const whole = join(dir, 'whole.gguf');
  await writeGguf(whole, METADATA, tensors());
  const ref = await openGguf(whole);
  try {
    assert.equal(ref.parts.length, 1);
    assert.equal(ref.totalSize, (await stat(whole)).size);
    for (const given of paths) {
      const f = await openGguf(given);
      try {
        assert.equal(f.path, paths[0], `opened through ${basename(given)}: the model's path is the first part`);
        assert.deepEqual(f.parts.map((p) => p.path), paths);
        assert.equal(f.totalSize, (await Promise.all(paths.map((p) => stat(p)))).reduce((n, s) => n + s.size, 0));
        assert.equal(f.metadata.get('general.name'), 'split-test');
        assert.deepEqual(f.tensors.map((t) => t.name), ref.tensors.map((t) => t.name));
        assert.deepEqual([...new Set(f.tensors.map((t) => t.part))], [0, 1, 2]);
        for (const t of f.tensors) {
          assert.deepEqual(await readTensorBytes(f, t), await readTensorBytes(ref, ref.tensorByName.get(t.name)!), `${t.name} (part ${t.part + 1})`);
        }
        const last = f.tensors.at(-1)!;
        await assert.rejects(f.read(last.offset, last.byteSize, undefined, 3), isErr('BAD_ARGUMENT', /part 3 of 3/));
      } finally {
        await f.close();
      }
      await assert.rejects(f.read(0, 4, undefined, 1), isErr('BAD_ARGUMENT', /after close/));
    }
  } finally {
    await ref.close();
  }
});

test('a missing part is named; a part of another set, a renamed file, a wrong count and a duplicate tensor are refused', async () => {
  const a = await writeSet('a');
  await rm(a[2]!);
  for (const given of [a[0]!, a[1]!]) {
    await assert.rejects(openGguf(given), isErr('NOT_FOUND', /part 3 of 3/, new RegExp(a[2]!.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')), /is missing/));
  }

  const b = await writeSet('b');
  await copyFile(b[1]!, b[2]!); // part 2's file in part 3's place
  await assert.rejects(openGguf(b[0]!), isErr('BAD_SPLIT', /says it is part 2 of 3, expected part 3 of 3/));

  const c = await writeSet('c');
  const renamed = join(dir, 'c-first.gguf');
  await rename(c[0]!, renamed);
  await assert.rejects(openGguf(renamed), isErr('BAD_SPLIT', /part 1 of a split model of 3 parts/, /-00001-of-00003\.gguf/));

  // a later part with a foreign count
  const d = await writeSet('d');
  const e = await writeSet('e', 4);
  await copyFile(e[1]!, d[1]!);
  await assert.rejects(openGguf(d[2]!), isErr('BAD_SPLIT', /part 2 of 4, expected part 2 of 3/));

  // split.tensors.count disagreeing with the parts, a tensor in two parts: hand-written parts
  const handPart = async (prefix: string, no: number, list: GgufWriteTensor[], count?: number) =>
    writeGguf(splitPartPath(join(dir, prefix), no, 2), [...(no === 0 ? METADATA : []), meta.u16('split.no', no), meta.u16('split.count', 2), ...(count === undefined ? [] : [meta.i32('split.tensors.count', count)])], list);
  const t = tensors();
  await handPart('f', 0, t.slice(0, 4), 9);
  await handPart('f', 1, t.slice(4));
  await assert.rejects(openGguf(splitPartPath(join(dir, 'f'), 1, 2)), isErr('BAD_SPLIT', /'split\.tensors\.count' = 9 but its 2 parts hold 8 tensors/));
  await handPart('g', 0, t.slice(0, 4), 8);
  await handPart('g', 1, t.slice(3, 7));
  await assert.rejects(openGguf(splitPartPath(join(dir, 'g'), 0, 2)), isErr('BAD_SPLIT', /tensor 't3\.weight' is in more than one part/));
  await handPart('h', 0, t.slice(0, 4));
  await handPart('h', 1, t.slice(4));
  await assert.rejects(openGguf(splitPartPath(join(dir, 'h'), 0, 2)), isErr('BAD_SPLIT', /'split\.tensors\.count' is missing/));
  // split.no past split.count
  await writeGguf(join(dir, 'i-00001-of-00002.gguf'), [...METADATA, meta.u16('split.no', 2), meta.u16('split.count', 2)], t.slice(0, 1));
  await assert.rejects(openGguf(join(dir, 'i-00001-of-00002.gguf')), isErr('BAD_SPLIT', /'split\.no' = 2 is not below 'split\.count' = 2/));
});

test('a file named like a part but without split keys is a whole model', async () => {
  const p = join(dir, 'solo-00001-of-00002.gguf');
  await writeGguf(p, METADATA, tensors());
  const f = await openGguf(p);
  try {
    assert.equal(f.parts.length, 1);
    assert.equal(f.tensors.length, 8);
  } finally {
    await f.close();
  }
});

function moecode(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'daemon/cli/main.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, MOECODE_BACKEND: 'cpu' } });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', fail);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

test('moecode info on a split model (given any part): one model, its parts and total size', async () => {
  const { ensureModel } = await import('../../tools/modelgen/model-cache.js');
  const first = await ensureModel({ arch: 'qwen2', split_parts: 3 });
  const paths = splitPartPaths(first, 0, 3)!;
  const total = (await Promise.all(paths.map((p) => stat(p)))).reduce((n, s) => n + s.size, 0);
  const json = await moecode(['info', paths[1]!, '--json']);
  assert.equal(json.code, 0, json.stderr);
  const info = JSON.parse(json.stdout) as { bytes: number; files: { path: string; bytes: number }[]; config: { arch: string } };
  assert.equal(info.config.arch, 'qwen2');
  assert.equal(info.bytes, total);
  assert.deepEqual(info.files.map((f) => f.path), paths);
  const text = await moecode(['info', paths[2]!]);
  assert.equal(text.code, 0, text.stderr);
  assert.match(text.stdout, new RegExp(`file size\\s+${(total / 1048576).toFixed(1)} MiB in 3 split parts`));
});
