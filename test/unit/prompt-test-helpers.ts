/** Helpers for the prompt tests: where a piece of text is, counted independently of the code under test. */
import type { PromptDiagnostic, Range } from '../../extension/prompts/prompt-format';

/** The 0-based range of the `occurrence`-th `needle` in `text` (it must not span lines). */
export function rangeOf(text: string, needle: string, occurrence = 0): Range {
  let offset = -1;
  for (let i = 0; i <= occurrence; i++) {
    offset = text.indexOf(needle, offset + 1);
    if (offset < 0) throw new Error(`'${needle}' (#${occurrence}) not in the text`);
  }
  const before = text.slice(0, offset).split('\n');
  const line = before.length - 1;
  const character = before[line].length;
  return { start: { line, character }, end: { line, character: character + needle.length } };
}

export function fmt(d: PromptDiagnostic): string {
  const r = d.range;
  return `${d.severity} ${d.code} ${r.start.line}:${r.start.character}-${r.end.line}:${r.end.character} ${d.message}`;
}

export function only(diagnostics: PromptDiagnostic[], code: PromptDiagnostic['code']): PromptDiagnostic {
  const found = diagnostics.filter((d) => d.code === code);
  if (found.length !== 1) throw new Error(`expected one ${code}, got:\n${diagnostics.map(fmt).join('\n')}`);
  return found[0];
}
