// The moecode-prompt TextMate grammar, tokenized by the engine and with the Markdown and YAML grammars that VS Code
// 1.100 itself ships (taken from the installed code-server; see grammar-harness.ts), on the sample files in
// test/fixtures/prompts (malformed ones included) and the built-in prompts, plus the language configuration.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { before, test as nodeTest, type TestContext } from 'node:test';
import { PROMPT_VARIABLES } from '../../extension/prompts/prompt-format';
import { TEMPLATE_TAGS } from '../../extension/prompts/template-check';
import { dump, GrammarsMissing, LANGUAGE_CONFIGURATION_PATH, loadPromptGrammar, scopesAt, scopesOf, VSCODE_DIR, type GrammarToken, type PromptGrammar } from './grammar-harness';

const FIXTURES = join(__dirname, '..', 'fixtures', 'prompts');
const BUILTIN_PROMPTS_DIR = join(__dirname, '..', '..', 'extension', 'prompts', 'builtin');
let grammar: PromptGrammar;
let missing: string | undefined;

before(async () => {
  try {
    grammar = await loadPromptGrammar();
    console.log(`# grammars of VS Code ${grammar.vscodeVersion} from ${VSCODE_DIR}`);
  } catch (e) {
    if (!(e instanceof GrammarsMissing)) throw e;
    missing = e.message;
    console.log(`# grammar tests skipped: ${missing}`);
  }
});

/** A test that needs VS Code's grammars; skipped, with the reason, when code-server is not installed. */
function test(name: string, fn: (t: TestContext) => void | Promise<void>): void {
  nodeTest(name, (t) => (missing ? t.skip(missing) : fn(t)));
}

function fixture(name: string): { text: string; lines: GrammarToken[][] } {
  const text = readFileSync(join(FIXTURES, name), 'utf8');
  return { text, lines: grammar.tokenize(text) };
}

/** Asserts that `scopes` contains each of `expected` (scope names may carry more suffixes). */
function has(scopes: string[], expected: string[], context: string): void {
  for (const e of expected) assert.ok(scopes.includes(e), `${context}: expected ${e} in\n  ${scopes.join('\n  ')}`);
}
function lacks(scopes: string[], unexpected: string[], context: string): void {
  for (const e of unexpected) assert.ok(!scopes.some((s) => s === e || s.startsWith(`${e}.`)), `${context}: did not expect ${e} in\n  ${scopes.join('\n  ')}`);
}

const S = '.moecode-prompt';
const EXPR = `meta.template.expression${S}`;
const TAG = `meta.tag.template${S}`;

test('front matter: delimiters, embedded YAML, template syntax not highlighted there', () => {
  const { text, lines } = fixture('full.prompt');
  has(scopesAt(lines, 0, 0), [`punctuation.definition.frontmatter.begin${S}`, `meta.frontmatter${S}`], '--- opening');
  has(scopesAt(lines, 9, 1), [`punctuation.definition.frontmatter.end${S}`], '--- closing');
  const description = scopesOf(text, lines, 3, '{{ bugs }}', 3);
  has(description, [`meta.embedded.block.frontmatter${S}`, 'source.yaml'], 'description value');
  lacks(description, [EXPR], 'description value');
  has(scopesOf(text, lines, 2, 'name'), ['entity.name.tag.yaml'], 'key');
  has(scopesOf(text, lines, 1, '#'), ['comment.line.number-sign.yaml'], 'YAML comment');
  has(scopesOf(text, lines, 6, '0.3'), ['constant.numeric.float.yaml'], 'number');
});

/** Front matters in the shapes prompt files use (the fixture and the built-ins are checked too). */
const FRONT_MATTER_VARIANTS: Record<string, string> = {
  'block scalar holding a ---': '---\ndescription: |\n  Multi-line\n  --- not a delimiter: indented\nname: block\n---\nBody {{ selection }}\n',
  'block sequence, comment, trailing spaces': '---   \nlanguages:\n  - typescript\n  - go\ntemperature: 0.2 # warm\n---\t\n# Heading {{ path }}\n',
  'quoted braces, flow map': "---\ntitle: '{{ not a template }}'\noutput: replace\nname: quoted\n---\nText\n",
};

test("front matter is YAML under VS Code's own Markdown and YAML grammars, in the yaml language; the body is the prompt language", () => {
  assert.match(grammar.loaded.get('text.html.markdown') ?? '', /extensions\/markdown-basics\/syntaxes\//, 'Markdown is VS Code\'s markdown-basics grammar');
  assert.match(grammar.loaded.get('source.yaml') ?? '', /extensions\/yaml\/syntaxes\//, 'YAML is VS Code\'s yaml grammar');
  const samples: [string, string][] = [
    ['full.prompt', readFileSync(join(FIXTURES, 'full.prompt'), 'utf8')],
    ...readdirSync(BUILTIN_PROMPTS_DIR)
      .filter((f) => f.endsWith('.prompt'))
      .map((f): [string, string] => [`builtin/${f}`, readFileSync(join(BUILTIN_PROMPTS_DIR, f), 'utf8')]),
    ...Object.entries(FRONT_MATTER_VARIANTS),
  ];
  const MARKDOWN_BLOCKS = ['meta.separator.markdown', 'meta.paragraph.markdown', 'markup.heading.markdown', 'markup.list.unnumbered.markdown', 'markup.heading.setext.2.markdown'];
  for (const [name, text] of samples) {
    const lines = grammar.tokenize(text);
    const close = text.split('\n').findIndex((l, i) => i > 0 && /^---[ \t]*$/.test(l));
    assert.ok(close > 0, name);
    for (const [line, which] of [[0, 'begin'], [close, 'end']] as const) {
      const delimiter = scopesAt(lines, line, 0);
      has(delimiter, [`punctuation.definition.frontmatter.${which}${S}`, `meta.frontmatter${S}`], `${name}: line ${line}`);
      lacks(delimiter, MARKDOWN_BLOCKS, `${name}: line ${line}`);
    }
    for (let line = 1; line < close; line++) {
      for (const token of lines[line].filter((t) => t.text.trim())) {
        const where = `${name}: line ${line} ${JSON.stringify(token.text)}\n${dump([lines[line]])}`;
        has(token.scopes, [`meta.embedded.block.frontmatter${S}`, 'source.yaml'], where);
        lacks(token.scopes, [...MARKDOWN_BLOCKS, EXPR, TAG], where);
        assert.equal(token.language, 'yaml', where);
      }
    }
    const keys = lines.slice(1, close).flat().filter((t) => t.scopes.includes('entity.name.tag.yaml'));
    assert.ok(keys.length > 0, `${name}: YAML keys are keys`);
    for (const token of lines.slice(close + 1).flat().filter((t) => t.text.trim() && !t.scopes.some((sc) => sc.startsWith('meta.embedded.block.')))) {
      assert.equal(token.language, 'moecode-prompt', `${name}: body token ${JSON.stringify(token.text)}`);
      lacks(token.scopes, ['source.yaml'], `${name}: body token ${JSON.stringify(token.text)}`);
    }
  }
});

test('expressions: delimiters, prompt variables, filters, properties, calls, strings, numbers, operators', () => {
  const { text, lines } = fixture('full.prompt');
  const line12 = (needle: string, delta = 0) => scopesOf(text, lines, 12, needle, delta);
  has(line12('{{'), [EXPR, `punctuation.definition.template-expression.begin${S}`], '{{');
  has(line12('}}'), [EXPR, `punctuation.definition.template-expression.end${S}`], '}}');
  has(line12('language'), [EXPR, `variable.language.prompt${S}`], 'language');
  has(line12('|'), [`keyword.operator.filter${S}`], '|');
  has(line12('upper'), [`support.function.filter${S}`], 'upper');
  const line24 = (needle: string, occurrence = 0) => scopesOf(text, lines, 24, needle, 0, occurrence);
  has(line24('line'), [TAG, `variable.other.readwrite${S}`], 'loop target');
  has(line24('split'), [`entity.name.function.member${S}`], 'method');
  has(line24('.'), [`punctuation.accessor${S}`], 'accessor');
  has(line24("'"), [`string.quoted.single${S}`, `punctuation.definition.string.begin${S}`], 'string');
  has(line24('\\n'), [`constant.character.escape${S}`], 'escape');
  has(line24('if'), [`keyword.control${S}`], 'loop filter if');
  const line25 = (needle: string) => scopesOf(text, lines, 25, needle);
  has(line25('loop'), [`variable.language${S}`], 'loop');
  has(line25('index'), [`variable.other.property${S}`], 'property');
  const line19 = (needle: string) => scopesOf(text, lines, 19, needle);
  has(line19('2000'), [`constant.numeric${S}`], 'number');
  has(line19('>'), [`keyword.operator.comparison${S}`], 'comparison');
  const line17 = (needle: string, occurrence = 0) => scopesOf(text, lines, 17, needle, 0, occurrence);
  has(line17('is'), [`keyword.operator.word${S}`], 'is');
  has(line17('none'), [`support.function.test${S}`], 'test name');
  has(line17('and'), [`keyword.operator.word${S}`], 'and');
  has(line17('!='), [`keyword.operator.comparison${S}`], '!=');
  has(line17('"'), [`string.quoted.double${S}`], 'empty string');
});

test('statements: keywords, whitespace control, set/assignment; comments', () => {
  const { text, lines } = fixture('full.prompt');
  has(scopesOf(text, lines, 16, '{%'), [TAG, `punctuation.definition.tag.begin${S}`], '{%');
  has(scopesOf(text, lines, 16, 'set'), [TAG, `keyword.control${S}`], 'set');
  has(scopesOf(text, lines, 16, '='), [`keyword.operator.assignment${S}`], '=');
  has(scopesOf(text, lines, 16, '%}'), [`punctuation.definition.tag.end${S}`], '%}');
  for (const [line, word] of [[17, 'if'], [19, 'elif'], [21, 'else'], [23, 'endif'], [24, 'for'], [26, 'endfor']] as const) {
    has(scopesOf(text, lines, line, word), [TAG, `keyword.control${S}`], word);
  }
  has(scopesOf(text, lines, 10, '{#-'), [`comment.block.template${S}`, `punctuation.definition.comment.begin${S}`], '{#-');
  const inComment = scopesOf(text, lines, 10, 'Comments');
  has(inComment, [`comment.block.template${S}`], 'comment text');
  lacks(inComment, ['meta.paragraph.markdown'], 'comment text');
  has(scopesOf(text, lines, 10, '-#}'), [`punctuation.definition.comment.end${S}`], '-#}');
});

test('the system block: keywords, whitespace control, a region that ends at {% endsystem %}', () => {
  const { text, lines } = fixture('full.prompt');
  has(scopesOf(text, lines, 11, 'system'), [`meta.block.system${S}`, `keyword.control.system${S}`], 'system');
  has(scopesOf(text, lines, 11, '-'), [`keyword.operator.whitespace-control${S}`], '-%}');
  has(scopesOf(text, lines, 12, 'reviewer'), [`meta.block.system${S}`], 'system text');
  has(scopesOf(text, lines, 13, 'endsystem'), [`meta.block.system${S}`, `keyword.control.system${S}`], '{%- endsystem');
  has(scopesOf(text, lines, 13, '-'), [`keyword.operator.whitespace-control${S}`], '{%-');
  lacks(scopesOf(text, lines, 13, 'endsystem'), [`invalid.illegal`, TAG], 'endsystem');
  lacks(scopesOf(text, lines, 14, 'Review'), [`meta.block.system${S}`], 'after the block');
});

test('the body is Markdown, with template syntax inside headings, emphasis, code spans and fenced blocks', () => {
  const { text, lines } = fixture('full.prompt');
  has(scopesOf(text, lines, 14, '#'), ['markup.heading.markdown', 'punctuation.definition.heading.markdown'], 'heading');
  has(scopesOf(text, lines, 14, 'path'), ['markup.heading.markdown', EXPR, `variable.language.prompt${S}`], 'variable in heading');
  has(scopesOf(text, lines, 12, 'strict'), ['markup.bold.markdown'], 'bold in the system block');
  has(scopesOf(text, lines, 18, 'focus'), ['markup.italic.markdown', EXPR], 'variable in italics');
  has(scopesOf(text, lines, 25, '`'), ['markup.inline.raw.string.markdown', 'punctuation.definition.raw.markdown'], 'code span');
  has(scopesOf(text, lines, 25, 'line'), ['markup.inline.raw.string.markdown', EXPR, `variable.other.readwrite${S}`], 'variable in code span');
  has(scopesOf(text, lines, 28, '```'), ['markup.fenced_code.block.markdown', 'punctuation.definition.markdown'], 'fence');
  has(scopesOf(text, lines, 28, 'language'), ['markup.fenced_code.block.markdown', EXPR, `variable.language.prompt${S}`], 'info string');
  has(scopesOf(text, lines, 29, 'file'), ['markup.fenced_code.block.markdown', EXPR, `variable.language.prompt${S}`], 'in the block');
  has(scopesOf(text, lines, 30, '```'), ['markup.fenced_code.block.markdown', 'punctuation.definition.markdown'], 'closing fence');
  // Plain Markdown, not inside a template region.
  const plain = fixture('no-front-matter.prompt');
  has(scopesOf(plain.text, plain.lines, 0, 'Just'), ['markup.heading.markdown'], 'heading without front matter');
  lacks(scopesOf(plain.text, plain.lines, 0, 'Just'), [`meta.frontmatter${S}`], 'no front matter');
  has(scopesOf(plain.text, plain.lines, 2, 'selection'), [EXPR, `variable.language.prompt${S}`], 'variable without front matter');
});

test('malformed: an unclosed {{ stops at the blank line and what follows is Markdown again', () => {
  const { text, lines } = fixture('unclosed-expression.prompt');
  has(scopesOf(text, lines, 3, 'selection'), [EXPR], 'inside the unclosed expression');
  const heading = scopesOf(text, lines, 5, 'Still');
  lacks(heading, [EXPR, TAG], 'after the blank line');
  has(heading, ['markup.heading.markdown'], 'heading after it');
  has(scopesOf(text, lines, 6, 'path'), [EXPR, `variable.language.prompt${S}`], 'a later expression');
  lacks(scopesOf(text, lines, 6, 'again'), [EXPR], 'text after the later expression');
});

test('malformed: unclosed front matter makes the rest YAML, not template', () => {
  const { text, lines } = fixture('unclosed-front-matter.prompt');
  const body = scopesOf(text, lines, 3, 'selection');
  has(body, [`meta.embedded.block.frontmatter${S}`, 'source.yaml'], 'rest of file');
  lacks(body, [EXPR], 'rest of file');
});

test('malformed: stray {% endsystem %}, unknown tag, }} inside a string', () => {
  const { text, lines } = fixture('stray-tags.prompt');
  has(scopesOf(text, lines, 3, 'endsystem'), [`invalid.illegal.unbalanced-tag${S}`], 'stray endsystem');
  has(scopesOf(text, lines, 4, 'frobnicate'), [TAG, `invalid.illegal.unknown-tag${S}`], 'unknown tag');
  has(scopesOf(text, lines, 4, 'selection'), [TAG, `variable.language.prompt${S}`], 'after the unknown tag');
  has(scopesOf(text, lines, 5, '}}'), [EXPR, `string.quoted.double${S}`], '}} in a string');
  has(scopesOf(text, lines, 5, 'selection'), [EXPR, `variable.language.prompt${S}`], 'after the string');
  has(scopesOf(text, lines, 5, '}}', 0, 1), [`punctuation.definition.template-expression.end${S}`], 'the real }}');
  // The block that follows is a proper system block, and its {% endsystem %} is not stray.
  has(scopesOf(text, lines, 7, 'language'), [`meta.block.system${S}`, EXPR], 'in the system block');
  has(scopesOf(text, lines, 10, 'endsystem'), [`keyword.control.system${S}`], 'endsystem');
  lacks(scopesOf(text, lines, 10, 'endsystem'), ['invalid.illegal'], 'endsystem');
  lacks(scopesOf(text, lines, 11, 'Done'), [`meta.block.system${S}`], 'after the system block');
});

test('the grammar knows every tag the validator accepts and every prompt variable', () => {
  for (const tag of TEMPLATE_TAGS) {
    const text = `---\n---\n{% ${tag} %}\n`;
    const scopes = scopesAt(grammar.tokenize(text), 2, 3);
    const expected = tag === 'system' || tag === 'endsystem' ? `keyword.control.system${S}` : `keyword.control${S}`;
    assert.ok(scopes.includes(expected) || (tag === 'endsystem' && scopes.includes(`invalid.illegal.unbalanced-tag${S}`)), `${tag}: ${scopes.join(' ')}`);
  }
  for (const v of PROMPT_VARIABLES) {
    assert.ok(scopesAt(grammar.tokenize(`---\n---\n{{ ${v} }}\n`), 2, 3).includes(`variable.language.prompt${S}`), v);
  }
  const other = scopesAt(grammar.tokenize('---\n---\n{{ selections }}\n'), 2, 3);
  assert.ok(other.includes(`variable.other.readwrite${S}`), other.join(' '));
});

test('language configuration: comments, brackets, auto-closing pairs and folding match the grammar', () => {
  const config = JSON.parse(readFileSync(LANGUAGE_CONFIGURATION_PATH, 'utf8')) as {
    comments: { blockComment: [string, string]; lineComment?: string };
    brackets: [string, string][];
    autoClosingPairs: { open: string; close: string }[];
    folding: { markers: { start: string; end: string } };
  };
  const [open, close] = config.comments.blockComment;
  assert.equal(config.comments.lineComment, undefined, 'no line comment: # starts a Markdown heading');
  const commented = grammar.tokenize(`---\n---\n${open} hidden ${close}\n`);
  for (const col of [0, open.length + 2, open.length + 9]) has(scopesAt(commented, 2, col), [`comment.block.template${S}`], `comment col ${col}`);

  const pairs = new Map(config.autoClosingPairs.map((p) => [p.open, p.close]));
  assert.equal(pairs.get('{{'), '}}');
  assert.equal(pairs.get('{%'), '%}');
  assert.equal(pairs.get('{#'), '#}');
  // VS Code completes '{' + '{' to '{{}}' only when the longer pair's close ends with the shorter one's.
  for (const [o, c] of pairs) if (o.length > 1 && pairs.has(o[0])) assert.ok(c.endsWith(pairs.get(o[0])!), `${o} ${c}`);
  for (const [o, c] of [['{{', '}}'], ['{%', '%}'], ['(', ')'], ['[', ']']]) assert.ok(config.brackets.some(([a, b]) => a === o && b === c), o);

  const start = new RegExp(config.folding.markers.start);
  const end = new RegExp(config.folding.markers.end);
  for (const line of ['{% if selection %}', '  {%- for x in y %}', '{% system %}', '{%- system -%}']) assert.ok(start.test(line), line);
  for (const line of ['{% endif %}', '{%- endfor %}', '{% endsystem %}']) assert.ok(end.test(line), line);
  for (const line of ['{% else %}', '{{ if }}', 'if x']) assert.ok(!start.test(line) && !end.test(line), line);
});

test('harness sanity: a dump names every token', () => {
  const lines = grammar.tokenize('---\n---\nA {{ b }}\n');
  assert.match(dump(lines), /"b" .*variable\.other\.readwrite/);
});
