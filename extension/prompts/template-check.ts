/**
 * Checks a prompt's template body and splits off its system part. Each problem is reported at its exact range:
 * an unclosed tag or quote, an unknown tag, a syntax error inside one tag (each tag is parsed on its own by
 * @huggingface/jinja), unbalanced blocks, a misplaced `{% system %}` block, a variable that is neither a prompt
 * variable nor bound by for/set/macro (checkTemplate: static, nothing of the template runs), then a filter or
 * test the engine does not have and a template past the time, memory or size limits (trialRender: a render
 * with sample values in the bounded renderer process of daemon/template/template-sandbox.ts, never on the caller's thread).
 */
import { Template } from '@huggingface/jinja';
import type { LineIndex } from './line-index';
import { PROMPT_VARIABLES, type PromptDiagnostic, type PromptVariable } from './prompt-format';
import { closestName } from './suggest';
import { TemplateLimitError, type TemplateLimits, type TemplateOutcome, type TemplateSandbox } from '../../daemon/template/template-sandbox';

/** For checking a prompt file with sample values: tiny inputs, so anything big is the template's own doing. */
export const CHECK_LIMITS: Readonly<TemplateLimits> = { timeoutMs: 2_000, maxHeapMb: 64, maxOutputChars: 256 * 1024 };
import { lexTag, scanTemplate, type Segment, type TagToken } from './template-scan';

/** Block tags and the tag that closes each; `set` is a block only without `=` (`{% set x %}…{% endset %}`). */
const BLOCK_END: Readonly<Record<string, string>> = {
  if: 'endif',
  for: 'endfor',
  macro: 'endmacro',
  call: 'endcall',
  filter: 'endfilter',
  set: 'endset',
  system: 'endsystem',
};
const END_OPEN = new Map(Object.entries(BLOCK_END).map(([open, end]) => [end, open]));
/** Tags that take nothing after their keyword. */
const BARE_TAGS = new Set(['else', 'break', 'continue', 'system', ...END_OPEN.keys()]);
export const TEMPLATE_TAGS: readonly string[] = [...Object.keys(BLOCK_END), 'elif', 'else', 'break', 'continue', ...END_OPEN.keys()];

/** Names the engine defines (setupGlobals and Environment in @huggingface/jinja 0.5.11). */
const ENGINE_GLOBALS = ['true', 'false', 'none', 'True', 'False', 'None', 'range', 'namespace', 'raise_exception', 'strftime_now'];
const EXPRESSION_KEYWORDS = new Set(['and', 'or', 'not', 'in', 'is', 'if', 'else']);

/** Values for the trial render that finds unknown filters and tests. */
export const SAMPLE_VALUES: Readonly<Record<PromptVariable, string>> = {
  selection: 'const x = 1;',
  file: 'const x = 1;\n',
  language: 'typescript',
  path: 'src/x.ts',
  input: 'sample input',
};

export interface CheckedTemplate {
  userTemplate: string;
  systemTemplate?: string;
  /** Each prompt variable the templates read, with the tokens that read it. */
  uses: Map<PromptVariable, TagToken[]>;
  /** The body's tags, to place what the trial render finds. */
  tags: readonly Tag[];
  /** The first line of the body, where problems of the whole template are reported. */
  bodyLine: PromptDiagnostic['range'];
}

export interface Tag {
  segment: Segment;
  tokens: TagToken[];
  /** For statements: the first word. */
  keyword?: string;
  /** False when the tag itself has a syntax error (then it is left out of later checks). */
  ok: boolean;
}

/**
 * Checks text[bodyStart, bodyEnd); returns undefined when there is an error. `missingBodyLine` is where to
 * report an empty body (the closing front-matter line).
 */
export function checkTemplate(
  index: LineIndex,
  bodyStart: number,
  bodyEnd: number,
  missingBodyLine: number,
  diagnostics: PromptDiagnostic[],
): CheckedTemplate | undefined {
  const text = index.text;
  const firstError = diagnostics.length;
  const error = (start: number, end: number, code: PromptDiagnostic['code'], message: string): void => {
    diagnostics.push({ range: index.range(start, end), severity: 'error', code, message });
  };

  if (text.slice(bodyStart, bodyEnd).trim() === '') {
    diagnostics.push({
      range: index.lineRange(missingBodyLine),
      severity: 'error',
      code: 'missing-body',
      message: 'The prompt has no text: write the message to send after the front matter, e.g. Explain {{ selection }}.',
    });
    return undefined;
  }

  const scan = scanTemplate(text, bodyStart, bodyEnd);
  if (scan.error) {
    error(scan.error.start, scan.error.end, 'unclosed-tag', scan.error.message);
    return undefined;
  }

  const tags: Tag[] = [];
  for (const segment of scan.segments) {
    if (segment.kind !== 'expression' && segment.kind !== 'statement') continue;
    const tag: Tag = { segment, tokens: lexTag(text, segment.innerStart, segment.innerEnd), ok: true };
    tags.push(tag);
    checkTagSyntax(text, tag, error);
  }

  const system = checkBlocks(index, tags, error);
  const uses = checkVariables(tags, (token, message) => error(token.start, token.end, 'unknown-variable', message));
  if (diagnostics.slice(firstError).some((d) => d.severity === 'error')) return undefined;

  const normalize = (s: string): string => s.replace(/\r\n/g, '\n');
  let userTemplate = normalize(text.slice(bodyStart, bodyEnd));
  let systemTemplate: string | undefined;
  if (system) {
    userTemplate = normalize(text.slice(bodyStart, system.open.start) + text.slice(system.close.end, bodyEnd));
    systemTemplate = normalize(text.slice(system.open.end, system.close.start));
    if (userTemplate.trim() === '') {
      error(system.close.start, system.close.end, 'missing-body', 'The prompt has only a system part: write the message to send after {% endsystem %}.');
      return undefined;
    }
  }

  const bodyLine = index.lineRange(index.positionAt(bodyStart).line);
  for (const source of systemTemplate === undefined ? [userTemplate] : [systemTemplate, userTemplate]) {
    try {
      new Template(source); // parsing only: nothing of the template runs here
    } catch (e) {
      diagnostics.push({ range: bodyLine, severity: 'error', code: 'template-syntax', message: `Template: ${(e as Error).message}` });
      return undefined;
    }
  }
  return { userTemplate, systemTemplate, uses, tags, bodyLine };
}

/**
 * Renders the checked templates with sample values in the sandbox's renderer process (CHECK_LIMITS: a few seconds, a
 * small heap, a bounded output): an unknown filter or test is an error at its name, a template past a limit is
 * an error on the first body line, any other runtime error is a warning. Returns false when there is an error.
 */
export async function trialRender(checked: CheckedTemplate, sandbox: TemplateSandbox, diagnostics: PromptDiagnostic[], index: LineIndex): Promise<boolean> {
  const sources = checked.systemTemplate === undefined ? [checked.userTemplate] : [checked.systemTemplate, checked.userTemplate];
  let outcomes: TemplateOutcome[];
  try {
    outcomes = await sandbox.render(sources, SAMPLE_VALUES, CHECK_LIMITS);
  } catch (e) {
    if (!(e instanceof TemplateLimitError)) throw e;
    if (e.kind === 'worker') {
      // the render process itself failed (did not start, or was stopped): not the template's fault. The file
      // loads (its real renders are bounded the same way) and is checked again on its next load.
      diagnostics.push({ range: checked.bodyLine, severity: 'warning', code: 'template-unchecked', message: `The template could not be trial-rendered now: ${e.message}.` });
      return true;
    }
    diagnostics.push({
      range: checked.bodyLine,
      severity: 'error',
      code: 'template-limit',
      message: `The template cannot be used: with sample values, ${e.message}. Templates must render within ${CHECK_LIMITS.timeoutMs / 1000} s and ${CHECK_LIMITS.maxHeapMb} MB.`,
    });
    return false;
  }
  for (const outcome of outcomes) {
    if (outcome.ok) continue;
    const located = locateRuntimeError(checked.tags, outcome.message);
    if (located) {
      diagnostics.push({ range: index.range(located.start, located.end), severity: 'error', code: 'unknown-filter', message: `${located.message} (@huggingface/jinja: ${outcome.message})` });
      return false;
    }
    diagnostics.push({ range: checked.bodyLine, severity: 'warning', code: 'template-runtime', message: `Rendering with sample values failed: ${outcome.message}` });
  }
  return true;
}

type ReportError = (start: number, end: number, code: PromptDiagnostic['code'], message: string) => void;

/** Checks one tag on its own: its keyword, then its text as @huggingface/jinja parses it inside a minimal block. */
function checkTagSyntax(text: string, tag: Tag, error: ReportError): void {
  const { segment, tokens } = tag;
  const fail = (start: number, end: number, code: PromptDiagnostic['code'], message: string): void => {
    tag.ok = false;
    error(start, end, code, message);
  };
  const inside = text.slice(segment.innerStart, segment.innerEnd);
  const spanStart = tokens.length ? tokens[0].start : segment.start;
  const spanEnd = tokens.length ? tokens[tokens.length - 1].end : segment.end;

  let probe: string;
  if (segment.kind === 'expression') {
    if (tokens.length === 0) return fail(segment.start, segment.end, 'template-syntax', 'Empty {{ }}: write a variable inside, e.g. {{ selection }}.');
    probe = `{{ ${inside} }}`;
  } else {
    const first = tokens[0];
    if (!first || first.kind !== 'identifier') {
      return fail(first?.start ?? segment.start, first?.end ?? segment.end, 'template-syntax', `A {% %} tag starts with a keyword: ${TEMPLATE_TAGS.join(', ')}.`);
    }
    tag.keyword = first.value;
    if (!TEMPLATE_TAGS.includes(first.value)) {
      const guess = closestName(first.value, TEMPLATE_TAGS);
      return fail(first.start, first.end, 'unknown-tag', `Unknown tag '${first.value}'.${guess ? ` Did you mean '${guess}'?` : ''} Tags: ${TEMPLATE_TAGS.join(', ')}.`);
    }
    if (BARE_TAGS.has(first.value)) {
      if (tokens.length > 1) return fail(tokens[1].start, spanEnd, 'template-syntax', `'${first.value}' takes nothing after it.`);
      return;
    }
    const rest = text.slice(first.end, segment.innerEnd);
    switch (first.value) {
      case 'if':
      case 'elif':
        probe = `{% if ${rest} %}{% endif %}`;
        break;
      case 'set':
        probe = tokens.some((t) => t.kind === 'operator' && t.value === '=') ? `{% set ${rest} %}` : `{% set ${rest} %}{% endset %}`;
        break;
      default:
        probe = `{% ${first.value} ${rest} %}{% end${first.value} %}`;
    }
    if (tokens.length === 1) return fail(first.start, first.end, 'template-syntax', `'${first.value}' needs more after it, e.g. {% ${example(first.value)} %}.`);
  }
  try {
    new Template(probe);
  } catch (e) {
    fail(spanStart, spanEnd, 'template-syntax', `Template: ${(e as Error).message}`);
  }
}

function example(keyword: string): string {
  const examples: Record<string, string> = {
    if: 'if selection',
    elif: 'elif input',
    for: 'for line in selection.split("\\n")',
    set: 'set lang = language | upper',
    macro: 'macro fence(code)',
    call: 'call fence(selection)',
    filter: 'filter upper',
  };
  return examples[keyword] ?? keyword;
}

interface Opened {
  keyword: string;
  tag: Tag;
  sawElse: boolean;
}

/** Checks that blocks nest and close; returns the system block's two tags when there is one. */
function checkBlocks(index: LineIndex, tags: Tag[], error: ReportError): { open: Segment; close: Segment } | undefined {
  const stack: Opened[] = [];
  let system: { open: Segment; close?: Segment } | undefined;
  const lineOf = (o: Opened): number => index.positionAt(o.tag.segment.start).line + 1;
  const at = (tag: Tag, code: PromptDiagnostic['code'], message: string): void => error(tag.segment.start, tag.segment.end, code, message);

  for (const tag of tags) {
    const keyword = tag.keyword;
    if (!keyword || !tag.ok) continue;
    const top = stack[stack.length - 1];
    const isBlockSet = keyword === 'set' && !tag.tokens.some((t) => t.kind === 'operator' && t.value === '=');
    if (keyword in BLOCK_END && (keyword !== 'set' || isBlockSet)) {
      // A misplaced system block is still pushed, so that its {% endsystem %} closes it without a second error.
      if (keyword === 'system' && system) {
        at(tag, 'misplaced-system', `Only one {% system %} block per prompt (the first is on line ${index.positionAt(system.open.start).line + 1}).`);
      } else if (keyword === 'system' && top) {
        at(tag, 'misplaced-system', `{% system %} must be at the top level, not inside {% ${top.keyword} %} (line ${lineOf(top)}).`);
      } else if (keyword === 'system') {
        system = { open: tag.segment };
      }
      stack.push({ keyword, tag, sawElse: false });
    } else if (keyword === 'elif' || keyword === 'else') {
      const allowed = keyword === 'elif' ? ['if'] : ['if', 'for'];
      if (!top || !allowed.includes(top.keyword)) {
        at(tag, 'unbalanced-block', `{% ${keyword} %} must be inside {% ${allowed.join(' %} or {% ')} %}${top ? `, not {% ${top.keyword} %} (line ${lineOf(top)})` : ''}.`);
      } else if (top.sawElse) {
        at(tag, 'unbalanced-block', `{% ${keyword} %} after {% else %}: the {% ${top.keyword} %} on line ${lineOf(top)} already has its else.`);
      } else if (keyword === 'else') {
        top.sawElse = true;
      }
    } else if (keyword === 'break' || keyword === 'continue') {
      if (!stack.some((o) => o.keyword === 'for')) at(tag, 'unbalanced-block', `{% ${keyword} %} must be inside a {% for %} loop.`);
    } else if (END_OPEN.has(keyword)) {
      const opener = END_OPEN.get(keyword)!;
      const depth = findLastIndex(stack, (o) => o.keyword === opener);
      if (depth < 0) {
        at(tag, 'unbalanced-block', `{% ${keyword} %} has no matching {% ${opener} %}${top ? ` (the open block is {% ${top.keyword} %} on line ${lineOf(top)})` : ''}.`);
        continue;
      }
      for (const unclosed of stack.splice(depth + 1).reverse()) {
        at(unclosed.tag, 'unbalanced-block', `{% ${unclosed.keyword} %} is not closed before {% ${keyword} %}: add {% ${BLOCK_END[unclosed.keyword]} %}.`);
      }
      const closed = stack.pop()!;
      if (closed.keyword === 'system' && system?.open === closed.tag.segment) system.close = tag.segment;
    }
  }
  for (const unclosed of stack) {
    at(unclosed.tag, 'unbalanced-block', `{% ${unclosed.keyword} %} is not closed: add {% ${BLOCK_END[unclosed.keyword]} %}.`);
  }
  return system?.close ? { open: system.open, close: system.close } : undefined;
}

function findLastIndex<T>(items: T[], test: (item: T) => boolean): number {
  for (let i = items.length - 1; i >= 0; i--) if (test(items[i])) return i;
  return -1;
}

interface Scope {
  keyword: string;
  names: Set<string>;
}

/**
 * Walks the tags in order with Jinja's scoping (for, macro and call open a scope; set binds in the current one)
 * and reports every name that is neither bound nor a prompt variable nor an engine global.
 */
function checkVariables(tags: Tag[], unknown: (token: TagToken, message: string) => void): Map<PromptVariable, TagToken[]> {
  const uses = new Map<PromptVariable, TagToken[]>();
  const scopes: Scope[] = [{ keyword: '', names: new Set([...PROMPT_VARIABLES, ...ENGINE_GLOBALS]) }];
  const bound = (name: string): boolean => scopes.some((s) => s.names.has(name));
  const bind = (name: string): void => void scopes[scopes.length - 1].names.add(name);
  const close = (keyword: string): void => {
    if (scopes.length > 1 && scopes[scopes.length - 1].keyword === keyword) scopes.pop();
  };

  /** Reads tokens[from, to) as an expression; `extraKeywords` are words that are not names there. */
  const read = (tokens: TagToken[], from: number, to: number, extraKeywords: readonly string[] = []): void => {
    let parens = 0;
    for (let i = from; i < to; i++) {
      const t = tokens[i];
      if (t.kind === 'operator') {
        if (t.value === '(') parens++;
        else if (t.value === ')') parens--;
        continue;
      }
      if (t.kind !== 'identifier') continue;
      const prev = tokens[i - 1];
      const next = tokens[i + 1];
      if (prev?.kind === 'operator' && (prev.value === '.' || prev.value === '|')) continue; // attribute, filter
      if (prev?.value === 'is' || (prev?.value === 'not' && tokens[i - 2]?.value === 'is')) continue; // test
      if (parens > 0 && next?.kind === 'operator' && next.value === '=') continue; // keyword argument
      if (EXPRESSION_KEYWORDS.has(t.value) || extraKeywords.includes(t.value)) continue;
      if ((PROMPT_VARIABLES as readonly string[]).includes(t.value) && !scopes.slice(1).some((s) => s.names.has(t.value))) {
        const variable = t.value as PromptVariable;
        (uses.get(variable) ?? uses.set(variable, []).get(variable)!).push(t);
        continue;
      }
      if (bound(t.value)) continue;
      const guess = closestName(t.value, [...PROMPT_VARIABLES]);
      unknown(t, `Unknown variable '${t.value}'.${guess ? ` Did you mean '${guess}'?` : ''} Prompt variables: ${PROMPT_VARIABLES.join(', ')}.`);
    }
  };
  const indexOf = (tokens: TagToken[], value: string, from = 0): number => {
    let depth = 0;
    for (let i = from; i < tokens.length; i++) {
      const t = tokens[i];
      if (t.kind === 'operator' && '([{'.includes(t.value)) depth++;
      else if (t.kind === 'operator' && ')]}'.includes(t.value)) depth--;
      else if (depth === 0 && t.value === value && t.kind !== 'string') return i;
    }
    return -1;
  };
  /** Names in a parameter list `(a, b=1)` starting at tokens[open] = '('; reads default values; returns the index after ')'. */
  const params = (tokens: TagToken[], open: number, into: Set<string>): number => {
    let depth = 0;
    let i = open;
    for (; i < tokens.length; i++) {
      const t = tokens[i];
      if (t.kind === 'operator' && t.value === '(') depth++;
      else if (t.kind === 'operator' && t.value === ')' && --depth === 0) return i + 1;
      else if (depth === 1 && t.kind === 'identifier' && [',', '(', undefined].includes(tokens[i - 1]?.value)) {
        into.add(t.value);
        if (tokens[i + 1]?.value === '=') {
          let end = i + 2;
          let d = 0;
          for (; end < tokens.length; end++) {
            const v = tokens[end].kind === 'operator' ? tokens[end].value : '';
            if ('([{'.includes(v) && v) d++;
            else if (')]}'.includes(v) && v) {
              if (d === 0) break;
              d--;
            } else if (v === ',' && d === 0) break;
          }
          read(tokens, i + 2, end);
          i = end - 1;
        }
      }
    }
    return i;
  };

  for (const tag of tags) {
    if (!tag.ok) continue;
    const tokens = tag.tokens;
    if (tag.segment.kind === 'expression') {
      read(tokens, 0, tokens.length);
      continue;
    }
    switch (tag.keyword) {
      case 'if':
      case 'elif':
        read(tokens, 1, tokens.length);
        break;
      case 'for': {
        // {% for targets in iterable [if condition] [recursive] %}: the iterable is read in the outer scope,
        // the condition in the loop's.
        const inAt = indexOf(tokens, 'in', 1);
        const ifAt = indexOf(tokens, 'if', inAt + 1);
        const conditionAt = ifAt < 0 ? tokens.length : ifAt;
        read(tokens, inAt + 1, conditionAt, ['recursive']);
        const names = new Set(['loop']);
        for (let i = 1; i < inAt; i++) if (tokens[i].kind === 'identifier') names.add(tokens[i].value);
        scopes.push({ keyword: 'for', names });
        read(tokens, conditionAt, tokens.length, ['recursive']);
        break;
      }
      case 'set': {
        const eq = indexOf(tokens, '=', 1);
        if (eq < 0) {
          if (tokens[1]?.kind === 'identifier') bind(tokens[1].value); // {% set x %}…{% endset %}
          break;
        }
        read(tokens, eq + 1, tokens.length);
        if (tokens[2]?.value === '.') read(tokens, 1, 2); // {% set ns.attr = … %} reads ns
        else for (let i = 1; i < eq; i++) if (tokens[i].kind === 'identifier') bind(tokens[i].value);
        break;
      }
      case 'macro': {
        if (tokens[1]?.kind === 'identifier') bind(tokens[1].value);
        const names = new Set(['varargs', 'kwargs', 'caller']);
        if (tokens[2]?.value === '(') params(tokens, 2, names);
        scopes.push({ keyword: 'macro', names });
        break;
      }
      case 'call': {
        const names = new Set<string>();
        const after = tokens[1]?.value === '(' ? params(tokens, 1, names) : 1;
        read(tokens, after, tokens.length);
        scopes.push({ keyword: 'call', names });
        break;
      }
      case 'filter':
        read(tokens, 2, tokens.length);
        break;
      case 'endfor':
      case 'endmacro':
      case 'endcall':
        close(tag.keyword.slice(3));
        break;
    }
  }
  return uses;
}

/** Finds the filter or test an "Unknown … filter: x" / "Unknown test: x" error names. */
function locateRuntimeError(tags: readonly Tag[], message: string): { start: number; end: number; message: string } | undefined {
  const filter = /Unknown (?:\w+ )?filter: (\w+)/.exec(message)?.[1];
  const test = /Unknown test: (\w+)/.exec(message)?.[1];
  const name = filter ?? test;
  if (!name) return undefined;
  for (const tag of tags) {
    const tokens = tag.tokens;
    for (let i = 1; i < tokens.length; i++) {
      const t = tokens[i];
      if (t.kind !== 'identifier' || t.value !== name) continue;
      const prev = tokens[i - 1].value;
      const isFilter = prev === '|' || (tag.keyword === 'filter' && i === 1);
      const isTest = prev === 'is' || (prev === 'not' && tokens[i - 2]?.value === 'is');
      if ((filter && isFilter) || (test && isTest)) {
        return { start: t.start, end: t.end, message: filter ? `Unknown filter '${name}'.` : `Unknown test '${name}'.` };
      }
    }
  }
  return undefined;
}
