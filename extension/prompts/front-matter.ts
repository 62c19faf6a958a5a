/**
 * The front matter of a `.prompt` file: finding the `---` block, parsing it as YAML (the `yaml` package,
 * which keeps every node's source range) and checking each key, with diagnostics at exact ranges.
 */
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import type { LineIndex } from './line-index';
import {
  FRONT_MATTER_KEYS,
  OUTPUT_MODES,
  PROMPT_NAME_MAX_LENGTH,
  PROMPT_NAME_PATTERN,
  SELECTION_MODES,
  TEMPERATURE_MAX,
  TEMPERATURE_MIN,
  type FrontMatterKey,
  type OutputMode,
  type PromptDiagnostic,
  type Range,
  type SelectionMode,
} from './prompt-format';
import { closestName } from './suggest';

const DELIMITER = /^---[ \t]*\r?$/;

export interface FrontMatterSplit {
  /** Offsets of the YAML text between the delimiters. */
  yamlStart: number;
  yamlEnd: number;
  /** Line of the closing `---`. */
  closeLine: number;
  /** Offset where the template body starts (after the closing line). */
  bodyStart: number;
}

/** Finds the `---` … `---` block that must open the file; undefined plus a diagnostic when there is none. */
export function splitFrontMatter(index: LineIndex, diagnostics: PromptDiagnostic[]): FrontMatterSplit | undefined {
  if (!DELIMITER.test(index.lineText(0))) {
    diagnostics.push({
      range: index.lineRange(0),
      severity: 'error',
      code: 'missing-front-matter',
      message: "A prompt file starts with front matter: a '---' line, YAML keys (name, description, …), and a closing '---' line.",
    });
    return undefined;
  }
  for (let line = 1; line < index.lineCount; line++) {
    if (!DELIMITER.test(index.lineText(line))) continue;
    const bodyStart = line + 1 < index.lineCount ? index.lineStart(line + 1) : index.text.length;
    return { yamlStart: index.lineStart(1), yamlEnd: index.lineStart(line), closeLine: line, bodyStart };
  }
  diagnostics.push({
    range: index.lineRange(0),
    severity: 'error',
    code: 'unclosed-front-matter',
    message: "The front matter is not closed: add a '---' line after its keys, then the prompt's text.",
  });
  return undefined;
}

/** The front matter's values, defaults filled in except `name` (which may come from the file name). */
export interface FrontMatter {
  name?: { value: string; range: Range };
  title?: string;
  description: string;
  selection: SelectionMode;
  languages: string[];
  temperature?: number;
  maxTokens?: number;
  output: OutputMode;
  /** Ranges of the values given, for diagnostics that concern a key. */
  ranges: Partial<Record<FrontMatterKey, Range>>;
}

/** Parses and checks the YAML; returns undefined when it has an error (diagnostics say which). */
export function parseFrontMatter(
  index: LineIndex,
  split: FrontMatterSplit,
  diagnostics: PromptDiagnostic[],
): FrontMatter | undefined {
  const { yamlStart, yamlEnd } = split;
  const yamlText = index.text.slice(yamlStart, yamlEnd);
  // Ranges are clamped to the YAML block: an error "at the end of input" points at its last character.
  const rangeOf = (start: number, end: number): Range => {
    const s = Math.min(yamlStart + start, Math.max(yamlStart, yamlEnd - 1));
    return index.range(s, Math.max(s, Math.min(yamlStart + end, yamlEnd)));
  };
  const nodeRange = (node: YamlNode | null | undefined, fallback: Range): Range =>
    node?.range ? rangeOf(node.range[0], node.range[1]) : fallback;
  const errorCount = diagnostics.length;
  const error = (range: Range, code: PromptDiagnostic['code'], message: string): void => {
    diagnostics.push({ range, severity: 'error', code, message });
  };

  const doc = parseDocument(yamlText, { prettyErrors: false, uniqueKeys: true });
  for (const e of doc.errors) error(rangeOf(e.pos[0], e.pos[1]), 'yaml-syntax', `YAML: ${e.message}`);
  for (const w of doc.warnings) {
    diagnostics.push({ range: rangeOf(w.pos[0], w.pos[1]), severity: 'warning', code: 'yaml-syntax', message: `YAML: ${w.message}` });
  }
  if (doc.errors.length > 0) return undefined;

  const result: FrontMatter = { description: '', selection: 'optional', languages: [], output: 'chat', ranges: {} };
  const contents = doc.contents;
  if (contents === null || (isScalar(contents) && contents.value === null)) return result; // empty front matter
  if (!isMap(contents)) {
    error(nodeRange(contents, index.lineRange(1)), 'front-matter-not-a-map', 'The front matter must be YAML keys and values (name: …, description: …).');
    return undefined;
  }

  for (const pair of contents.items as Pair<YamlNode | null, YamlNode | null>[]) {
    const keyNode = pair.key;
    const keyRange = nodeRange(keyNode, index.lineRange(1));
    if (!isScalar(keyNode) || typeof keyNode.value !== 'string') {
      error(keyRange, 'bad-type', 'Front matter keys are plain names such as description or temperature.');
      continue;
    }
    const key = keyNode.value;
    if (!(FRONT_MATTER_KEYS as readonly string[]).includes(key)) {
      const guess = closestName(key, FRONT_MATTER_KEYS);
      error(keyRange, 'unknown-key', `Unknown key '${key}'.${guess ? ` Did you mean '${guess}'?` : ''} Keys: ${FRONT_MATTER_KEYS.join(', ')}.`);
      continue;
    }
    const valueNode = pair.value;
    const valueRange = valueNode?.range && valueNode.range[1] > valueNode.range[0] ? nodeRange(valueNode, keyRange) : keyRange;
    const scalar = isScalar(valueNode) ? valueNode.value : undefined;
    result.ranges[key as FrontMatterKey] = valueRange;

    switch (key as FrontMatterKey) {
      case 'name': {
        if (typeof scalar !== 'string') {
          error(valueRange, 'bad-type', 'name must be a string, e.g. name: review');
        } else if (!PROMPT_NAME_PATTERN.test(scalar) || scalar.length > PROMPT_NAME_MAX_LENGTH) {
          error(valueRange, 'bad-value', `name '${scalar}' must be lower-case letters, digits and single dashes, starting with a letter (at most ${PROMPT_NAME_MAX_LENGTH} characters), e.g. write-tests: it becomes the /name chat command.`);
        } else {
          result.name = { value: scalar, range: valueRange };
        }
        break;
      }
      case 'title':
        if (typeof scalar !== 'string' || scalar.trim() === '') error(valueRange, 'bad-type', 'title must be a non-empty string, e.g. title: Review Selection');
        else result.title = scalar.trim();
        break;
      case 'description':
        if (typeof scalar !== 'string') error(valueRange, 'bad-type', 'description must be a string.');
        else result.description = scalar.trim();
        break;
      case 'selection':
        if (typeof scalar !== 'string' || !(SELECTION_MODES as readonly string[]).includes(scalar)) {
          error(valueRange, typeof scalar === 'string' ? 'bad-value' : 'bad-type', `selection must be one of ${SELECTION_MODES.join(', ')}.`);
        } else {
          result.selection = scalar as SelectionMode;
        }
        break;
      case 'output':
        if (typeof scalar !== 'string' || !(OUTPUT_MODES as readonly string[]).includes(scalar)) {
          error(valueRange, typeof scalar === 'string' ? 'bad-value' : 'bad-type', `output must be one of ${OUTPUT_MODES.join(', ')} (the chat panel, replace the selection, insert at the cursor).`);
        } else {
          result.output = scalar as OutputMode;
        }
        break;
      case 'languages': {
        if (typeof scalar === 'string' && scalar.trim() !== '') {
          result.languages = [scalar.trim()];
        } else if (isSeq(valueNode)) {
          const languages: string[] = [];
          for (const item of valueNode.items as (YamlNode | null)[]) {
            const v = isScalar(item) ? item.value : undefined;
            if (typeof v !== 'string' || v.trim() === '') {
              error(nodeRange(item, valueRange), 'bad-type', 'Each language must be a language id string, e.g. typescript.');
            } else {
              languages.push(v.trim());
            }
          }
          result.languages = languages.includes('*') ? [] : languages;
        } else {
          error(valueRange, 'bad-type', 'languages must be a list of language ids, e.g. languages: [typescript, javascript].');
        }
        break;
      }
      case 'temperature':
        if (typeof scalar !== 'number' || !Number.isFinite(scalar)) {
          error(valueRange, 'bad-type', `temperature must be a number from ${TEMPERATURE_MIN} to ${TEMPERATURE_MAX}.`);
        } else if (scalar < TEMPERATURE_MIN || scalar > TEMPERATURE_MAX) {
          error(valueRange, 'bad-value', `temperature ${scalar} is out of range: use ${TEMPERATURE_MIN} to ${TEMPERATURE_MAX}.`);
        } else {
          result.temperature = scalar;
        }
        break;
      case 'maxTokens':
        if (typeof scalar !== 'number' || !Number.isFinite(scalar)) {
          error(valueRange, 'bad-type', 'maxTokens must be a whole number of tokens, e.g. maxTokens: 512.');
        } else if (!Number.isInteger(scalar) || scalar < 1) {
          error(valueRange, 'bad-value', `maxTokens ${scalar} must be a whole number of at least 1.`);
        } else {
          result.maxTokens = scalar;
        }
        break;
    }
  }
  return diagnostics.slice(errorCount).some((d) => d.severity === 'error') ? undefined : result;
}
