/** A small, strict argv parser for the moecode command line (`--name value`, `--flag`). */
export interface ParsedArgs {
  positional: string[];
  flags: Map<string, string | true>;
}

export class UsageError extends Error {
  override name = 'UsageError';
}

/** Parses `argv`; any flag not in `booleanFlags` or `valueFlags` is a UsageError (a typo must not be ignored). */
export function parseArgs(argv: string[], booleanFlags: readonly string[] = [], valueFlags?: readonly string[]): ParsedArgs {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(2, eq) : a.slice(2);
      if (valueFlags && !valueFlags.includes(name) && !booleanFlags.includes(name)) throw new UsageError(`unknown flag --${name}`);
      if (eq > 0) flags.set(name, a.slice(eq + 1));
      else if (booleanFlags.includes(name)) flags.set(name, true);
      else {
        if (i + 1 >= argv.length) throw new UsageError(`--${name} needs a value`);
        flags.set(name, argv[++i]);
      }
    } else positional.push(a);
  }
  return { positional, flags };
}

export function numberFlag(args: ParsedArgs, name: string, fallback: number, check?: (v: number) => boolean): number {
  const v = args.flags.get(name);
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v === true || !Number.isFinite(n) || (check && !check(n))) throw new UsageError(`--${name}: invalid value ${String(v)}`);
  return n;
}

export function stringFlag(args: ParsedArgs, name: string): string | undefined {
  const v = args.flags.get(name);
  if (v === true) throw new UsageError(`--${name} needs a value`);
  return v;
}
