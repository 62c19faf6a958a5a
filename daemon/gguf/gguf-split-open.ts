/**
 * Opening a model that may be split (gguf-split.ts) from the path of any of its parts: the given file is
 * read; when it says it is part k of n, the other parts' paths come from its name, each is opened and
 * checked (its split.no, its split.count, no tensor twice, split.tensors.count in total), and the parts
 * are presented as one GgufFile whose tensor infos name their part. A missing part, a part numbered
 * wrongly or a name without the `-0000k-of-0000n.gguf` suffix is a clear error naming the file.
 */
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { GgufError, isGgufError } from './gguf-error.js';
import { metaHas, metaU32 } from './gguf-metadata.js';
import type { GgufFile, GgufTensorInfo } from './gguf-reader.js';
import { MAX_SPLIT_PARTS, SPLIT_KEY, splitPartPath, splitPartPaths } from './gguf-split.js';

const name = (p: string) => basename(p).slice(0, 200);

/** split.no and split.count of one file; a file without split.count (or with 1) is a whole model. */
function splitPosition(f: GgufFile): { no: number; count: number } {
  if (!metaHas(f, SPLIT_KEY.count)) return { no: 0, count: 1 };
  const count = metaU32(f, SPLIT_KEY.count);
  if (count <= 1) return { no: 0, count: 1 };
  if (count > MAX_SPLIT_PARTS) throw new GgufError('LIMIT_EXCEEDED', `${name(f.path)}: '${SPLIT_KEY.count}' = ${count} parts exceeds the maximum ${MAX_SPLIT_PARTS}`);
  if (!metaHas(f, SPLIT_KEY.no)) throw new GgufError('BAD_SPLIT', `${name(f.path)}: '${SPLIT_KEY.count}' = ${count} but '${SPLIT_KEY.no}' is missing`);
  const no = metaU32(f, SPLIT_KEY.no);
  if (no >= count) throw new GgufError('BAD_SPLIT', `${name(f.path)}: '${SPLIT_KEY.no}' = ${no} is not below '${SPLIT_KEY.count}' = ${count}`);
  return { no, count };
}

export async function openSplitAware(path: string, openOne: (path: string) => Promise<GgufFile>): Promise<GgufFile> {
  const given = await openOne(path);
  const opened: GgufFile[] = [given];
  try {
    const { no, count } = splitPosition(given);
    if (count === 1) return given;
    const paths = splitPartPaths(given.path, no, count);
    if (!paths) {
      throw new GgufError(
        'BAD_SPLIT',
        `${name(given.path)} is part ${no + 1} of a split model of ${count} parts, but its name does not end in '${basename(splitPartPath('', no, count))}', so the other parts cannot be found`,
      );
    }
    const parts: GgufFile[] = new Array(count);
    parts[no] = given;
    for (let i = 0; i < count; i++) {
      if (i === no) continue;
      const p = paths[i]!;
      if (!existsSync(p)) throw new GgufError('NOT_FOUND', `split model ${name(paths[0]!)}: part ${i + 1} of ${count}, '${p}', is missing`);
      let part: GgufFile;
      try {
        part = await openOne(p);
      } catch (e) {
        if (isGgufError(e, 'NOT_FOUND')) throw new GgufError('NOT_FOUND', `split model ${name(paths[0]!)}: part ${i + 1} of ${count}, '${p}', cannot be opened`, { cause: e });
        throw e;
      }
      opened.push(part);
      const pos = splitPosition(part);
      if (pos.count !== count || pos.no !== i) {
        throw new GgufError('BAD_SPLIT', `${name(p)} says it is part ${pos.no + 1} of ${pos.count}, expected part ${i + 1} of ${count} (the parts of ${name(paths[0]!)} do not belong together)`);
      }
      parts[i] = part;
    }
    return joinParts(parts);
  } catch (e) {
    await Promise.all(opened.map((f) => f.close().catch(() => undefined)));
    throw e;
  }
}

/** The parts as one model: the first part's metadata, every part's tensors. */
function joinParts(parts: GgufFile[]): GgufFile {
  const first = parts[0]!;
  const tensors: GgufTensorInfo[] = [];
  const tensorByName = new Map<string, GgufTensorInfo>();
  parts.forEach((p, i) => {
    for (const t of p.tensors) {
      if (tensorByName.has(t.name)) throw new GgufError('BAD_SPLIT', `tensor '${t.name.slice(0, 80)}' is in more than one part of ${name(first.path)} (again in part ${i + 1})`);
      const info = { ...t, part: i };
      tensors.push(info);
      tensorByName.set(t.name, info);
    }
  });
  if (!metaHas(first, SPLIT_KEY.tensorsCount)) throw new GgufError('BAD_SPLIT', `${name(first.path)}: '${SPLIT_KEY.tensorsCount}' is missing from the first part`);
  const expected = metaU32(first, SPLIT_KEY.tensorsCount);
  if (expected !== tensors.length) {
    throw new GgufError('BAD_SPLIT', `split model ${name(first.path)}: '${SPLIT_KEY.tensorsCount}' = ${expected} but its ${parts.length} parts hold ${tensors.length} tensors`);
  }
  let closed = false;
  return {
    ...first,
    totalSize: parts.reduce((n, p) => n + p.fileSize, 0),
    parts: parts.map((p) => ({ path: p.path, fileSize: p.fileSize, dataOffset: p.dataOffset })),
    tensors,
    tensorByName,
    read(offset: number, length: number, into?: Uint8Array, part = 0): Promise<Uint8Array> {
      const f = parts[part];
      if (!Number.isInteger(part) || !f) return Promise.reject(new GgufError('BAD_ARGUMENT', `${name(first.path)}: read from part ${part} of ${parts.length}`));
      return f.read(offset, length, into);
    },
    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      await Promise.all(parts.map((p) => p.close()));
    },
  };
}
