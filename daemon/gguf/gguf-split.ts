/**
 * Split GGUF models (llama.cpp's gguf-split): `NAME-00001-of-00003.gguf`, `NAME-00002-of-00003.gguf`, …
 * Every part is a GGUF file holding some of the tensors and the keys `split.no` (u16, 0-based),
 * `split.count` (u16) and, in the first part, `split.tensors.count` (i32); all other metadata is in the
 * first part only. llama.cpp opens the set from the first part's path and derives the others from its
 * name (llama_split_prefix / llama_split_path); the reader (gguf-reader.ts) does the same from any part.
 */
import { basename } from 'node:path';

export const SPLIT_KEY = {
  no: 'split.no',
  count: 'split.count',
  tensorsCount: 'split.tensors.count',
} as const;

/** At most this many parts are opened (each keeps a file handle open). */
export const MAX_SPLIT_PARTS = 512;

const PART_SUFFIX = /-(\d{5})-of-(\d{5})\.gguf$/i;

/** `prefix-0000{no+1}-of-0000{count}.gguf` (llama_split_path; `no` is 0-based). */
export function splitPartPath(prefix: string, no: number, count: number): string {
  const pad = (n: number) => String(n).padStart(5, '0');
  return `${prefix}-${pad(no + 1)}-of-${pad(count)}.gguf`;
}

/**
 * The prefix of a part's path when its name ends in the suffix of part `no` of `count`
 * (llama_split_prefix), else undefined.
 */
export function splitPrefix(path: string, no: number, count: number): string | undefined {
  const suffix = splitPartPath('', no, count);
  return path.length > suffix.length && path.endsWith(suffix) ? path.slice(0, path.length - suffix.length) : undefined;
}

/** The 1-based part number and count a file name announces (`x-00002-of-00003.gguf` → [2, 3]), if any. */
export function splitNameOf(path: string): { part: number; count: number } | undefined {
  const m = PART_SUFFIX.exec(basename(path));
  return m ? { part: Number(m[1]), count: Number(m[2]) } : undefined;
}

/** Every part's path of the split model one of whose parts is `path` (part `no` of `count`, 0-based). */
export function splitPartPaths(path: string, no: number, count: number): string[] | undefined {
  const prefix = splitPrefix(path, no, count);
  if (prefix === undefined) return undefined;
  return Array.from({ length: count }, (_, i) => splitPartPath(prefix, i, count));
}
