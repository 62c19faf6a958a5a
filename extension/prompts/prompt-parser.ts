/**
 * A `.prompt` file to a prompt definition plus diagnostics with exact 0-based ranges. A file with any error
 * yields no prompt (it is skipped; the others still load); warnings do not.
 *  - `checkPromptFile(text, uri, sandbox)`: everything, including a trial render of the template with sample
 *    values in the sandbox's bounded renderer (unknown filters, templates past the time/memory/size limits).
 *    This is what decides whether a prompt loads.
 *  - `parsePromptFile(text, uri)`: the static part only; nothing of the template runs.
 */
import { parseFrontMatter, splitFrontMatter } from './front-matter';
import { LineIndex } from './line-index';
import {
  PROMPT_NAME_MAX_LENGTH,
  PROMPT_NAME_PATTERN,
  PROMPT_VARIABLES,
  type ParseResult,
  type PromptDefinition,
  type PromptDiagnostic,
} from './prompt-format';
import { checkTemplate, trialRender, type CheckedTemplate } from './template-check';
import type { TemplateSandbox } from '../../daemon/template/template-sandbox';

/** A prompt file longer than this (UTF-16 code units) is not read further: 256 Ki is pages of instructions. */
export const PROMPT_FILE_MAX_CHARS = 256 * 1024;
/** Most blank characters in a row (spaces, tabs, newlines): a bound on the template parser's time. */
export const PROMPT_MAX_WHITESPACE_RUN = 1024;

export function parsePromptFile(text: string, uri: string): ParseResult {
  const { result } = parseStatic(text, uri);
  return result;
}

/** Parses the file and trial-renders its template in the sandbox; a template that fails there yields no prompt. */
export async function checkPromptFile(text: string, uri: string, sandbox: TemplateSandbox): Promise<ParseResult> {
  const { result, template, index } = parseStatic(text, uri);
  if (!result.prompt || !template || !index) return result;
  const diagnostics = [...result.diagnostics];
  const ok = await trialRender(template, sandbox, diagnostics, index);
  return ok ? { prompt: result.prompt, diagnostics } : { diagnostics };
}

/** Where the first run of more than `max` whitespace characters starts, or -1 (one linear pass). */
function longWhitespaceRun(text: string, max: number): number {
  let start = 0;
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    if (/\s/.test(text[i]!)) {
      if (n++ === 0) start = i;
      if (n > max) return start;
    } else n = 0;
  }
  return -1;
}

function parseStatic(text: string, uri: string): { result: ParseResult; template?: CheckedTemplate; index?: LineIndex } {
  // VS Code drops a UTF-8 BOM from a document's text; do the same so positions agree with the editor.
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (source.length > PROMPT_FILE_MAX_CHARS) {
    return {
      result: {
        diagnostics: [
          {
            range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } },
            severity: 'error',
            code: 'file-too-large',
            message: `The prompt file has ${source.length.toLocaleString('en')} characters; a prompt file may have at most ${PROMPT_FILE_MAX_CHARS.toLocaleString('en')}. It is not loaded.`,
          },
        ],
      },
    };
  }
  const index = new LineIndex(source);
  const diagnostics: PromptDiagnostic[] = [];
  // The template library's parser scans whitespace runs with a backtracking regex (time ∝ run length²): a
  // file with one long run would stall the extension host before any template code could be bounded.
  const runAt = longWhitespaceRun(source, PROMPT_MAX_WHITESPACE_RUN);
  if (runAt >= 0) {
    const at = index.positionAt(runAt);
    diagnostics.push({
      range: { start: at, end: at },
      severity: 'error',
      code: 'file-too-large',
      message: `The prompt file has a run of more than ${PROMPT_MAX_WHITESPACE_RUN.toLocaleString('en')} blank characters here; a prompt file may have at most that many in a row. It is not loaded.`,
    });
    return { result: { diagnostics } };
  }

  const split = splitFrontMatter(index, diagnostics);
  if (!split) return { result: { diagnostics } };
  const front = parseFrontMatter(index, split, diagnostics);
  const template = checkTemplate(index, split.bodyStart, source.length, split.closeLine, diagnostics);
  if (!front || !template) return { result: { diagnostics } };

  let name = front.name;
  if (!name) {
    const fromFile = promptNameFromUri(uri);
    const range = index.lineRange(0);
    if (!fromFile) {
      diagnostics.push({
        range,
        severity: 'error',
        code: 'bad-value',
        message: `The file name is not a valid prompt name: add a name key (lower-case letters, digits and dashes), e.g. name: review.`,
      });
      return { result: { diagnostics } };
    }
    name = { value: fromFile, range };
  }

  const selectionUses = template.uses.get('selection') ?? [];
  if (front.selection === 'none') {
    for (const use of selectionUses) {
      diagnostics.push({
        range: index.range(use.start, use.end),
        severity: 'warning',
        code: 'unused-selection',
        message: "selection: none means {{ selection }} is always empty; use selection: optional or required to read it.",
      });
    }
  }
  if (front.output === 'replace' && front.selection === 'none') {
    diagnostics.push({
      range: front.ranges.output ?? name.range,
      severity: 'warning',
      code: 'output-needs-selection',
      message: 'output: replace replaces the selection, but selection is none: the answer will be inserted at the cursor.',
    });
  }
  if (diagnostics.some((d) => d.severity === 'error')) return { result: { diagnostics } };

  const prompt: PromptDefinition = {
    name: name.value,
    title: front.title ?? titleFromName(name.value),
    description: front.description,
    selection: front.selection,
    languages: front.languages,
    output: front.output,
    userTemplate: template.userTemplate,
    variables: PROMPT_VARIABLES.filter((v) => template.uses.has(v)),
    uri,
    nameRange: name.range,
  };
  if (front.temperature !== undefined) prompt.temperature = front.temperature;
  if (front.maxTokens !== undefined) prompt.maxTokens = front.maxTokens;
  if (template.systemTemplate !== undefined) prompt.systemTemplate = template.systemTemplate;
  return { result: { prompt, diagnostics }, template, index };
}

/** `write-tests` → `Write Tests`. */
export function titleFromName(name: string): string {
  return name
    .split('-')
    .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
    .join(' ');
}

/** `…/.moecode/prompts/write-tests.prompt` → `write-tests`; undefined when the base name is not a valid name. */
export function promptNameFromUri(uri: string): string | undefined {
  const path = uri.replace(/[?#].*$/, '');
  const base = decodeURIComponent(path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1)).replace(/\.prompt$/i, '');
  const name = base.toLowerCase().replace(/[\s_]+/g, '-');
  return PROMPT_NAME_PATTERN.test(name) && name.length <= PROMPT_NAME_MAX_LENGTH ? name : undefined;
}
