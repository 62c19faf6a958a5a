/**
 * The prompts in effect, from every parsed file: one per name, a workspace prompt over a user prompt over a
 * built-in one (so a team can reword /explain). Two files of one origin with one name: the first wins and
 * the second gets a warning at its name.
 */
import { ORIGIN_PRECEDENCE, type ParseResult, type PromptDefinition, type PromptDiagnostic, type PromptOrigin } from './prompt-format';

/** The built-in actions, as file names under extension/prompts/builtin/ (the prompt name is the base name). */
export const BUILTIN_PROMPTS = ['explain', 'fix', 'document', 'tests'] as const;
export type BuiltinPromptName = (typeof BUILTIN_PROMPTS)[number];

export interface PromptFileResult {
  uri: string;
  origin: PromptOrigin;
  result: ParseResult;
}

export interface ResolvedPrompt extends PromptDefinition {
  origin: PromptOrigin;
  /** The URI of the prompt of the same name this one hides, if any (e.g. a built-in). */
  overrides?: string;
  /** The built-in prompt of the same name this one takes the place of (its commands run this one), if any. */
  overridesBuiltin?: { uri: string; title: string };
}

export interface PromptSet {
  /** The prompts in effect, sorted by name. */
  prompts: ResolvedPrompt[];
  /** Every file's diagnostics, the parser's plus duplicate-name ones; files without any are present with []. */
  diagnostics: Map<string, PromptDiagnostic[]>;
}

/** `files` in discovery order (workspace folders in order, files sorted by path within a folder). */
export function resolvePromptSet(files: readonly PromptFileResult[]): PromptSet {
  const diagnostics = new Map<string, PromptDiagnostic[]>();
  for (const f of files) diagnostics.set(f.uri, [...(diagnostics.get(f.uri) ?? []), ...f.result.diagnostics]);

  const ordered = files
    .map((f, i) => ({ f, i }))
    .sort((a, b) => ORIGIN_PRECEDENCE[b.f.origin] - ORIGIN_PRECEDENCE[a.f.origin] || a.i - b.i)
    .map(({ f }) => f);
  const byName = new Map<string, ResolvedPrompt>();
  for (const { uri, origin, result } of ordered) {
    const prompt = result.prompt;
    if (!prompt) continue;
    const winner = byName.get(prompt.name);
    if (!winner) {
      byName.set(prompt.name, { ...prompt, origin });
      continue;
    }
    if (winner.origin === origin) {
      diagnostics.get(uri)!.push({
        range: prompt.nameRange,
        severity: 'warning',
        code: 'duplicate-name',
        message: `Another ${origin} prompt is already named '${prompt.name}' (${winner.uri}); this file is ignored. Give it another name.`,
      });
    } else {
      winner.overrides ??= uri;
      if (origin === 'builtin' && !winner.overridesBuiltin) {
        winner.overridesBuiltin = { uri, title: prompt.title };
        diagnostics.get(winner.uri)!.push({
          range: winner.nameRange,
          severity: 'information',
          code: 'overrides-builtin',
          message: `This ${winner.origin} prompt takes the place of the built-in '${prompt.title}': its command and /${prompt.name} run this file.`,
        });
      }
      if (origin !== 'builtin') {
        diagnostics.get(uri)!.push({
          range: prompt.nameRange,
          severity: 'information',
          code: 'duplicate-name',
          message: `The ${winner.origin} prompt ${winner.uri} has the same name and takes precedence over this one.`,
        });
      }
    }
  }
  const prompts = [...byName.values()].sort((a, b) => a.name.localeCompare(b.name));
  return { prompts, diagnostics };
}
