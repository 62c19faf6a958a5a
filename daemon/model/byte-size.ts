/**
 * Sizes in bytes as people write them: plain bytes (`536870912`), or a number with a binary or decimal
 * unit (`512MiB`, `6GiB`, `1.5 GiB`, `800MB`, `64k`). Used by `--gpu-budget`, MOECODE_GPU_BUDGET and
 * MOECODE_HOST_CACHE; the result is a whole number of bytes.
 */

export class ByteSizeError extends Error {
  override name = 'ByteSizeError';
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kib: 1024,
  kb: 1000,
  m: 1024 ** 2,
  mib: 1024 ** 2,
  mb: 1000 ** 2,
  g: 1024 ** 3,
  gib: 1024 ** 3,
  gb: 1000 ** 3,
  t: 1024 ** 4,
  tib: 1024 ** 4,
  tb: 1000 ** 4,
};

/** Largest size accepted (1 PiB): anything beyond is a typo, not a budget. */
const MAX_BYTES = 1024 ** 5;

/** Parses `text`; `what` names the source in the error (e.g. "--gpu-budget"). */
export function parseByteSize(text: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) throw new ByteSizeError(`${what}: "${text.slice(0, 40)}" is not a size (examples: 536870912, 512MiB, 6GiB)`);
  const unit = UNITS[m[2]!.toLowerCase()];
  if (unit === undefined) throw new ByteSizeError(`${what}: unknown unit "${m[2]!.slice(0, 10)}" (B, KiB, MiB, GiB, TiB, or KB, MB, GB, TB)`);
  const bytes = Math.floor(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes) || bytes > MAX_BYTES) throw new ByteSizeError(`${what}: ${text.trim()} is larger than 1 PiB`);
  return bytes;
}

/** A size for people: `512.0 MiB`, `6.00 GiB`, `812 B`. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${Math.round(n)} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}
