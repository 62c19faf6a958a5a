// parsePromptFile: front matter, defaults, and each front-matter diagnostic at its exact 0-based range.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parsePromptFile, promptNameFromUri } from '../../extension/prompts/prompt-parser';
import { fmt, only, rangeOf } from './prompt-test-helpers';

const URI = 'file:///work/.moecode/prompts/review.prompt';

test('a complete file parses to its definition', () => {
  const text = [
    '---',
    'name: review-code',
    'title: Review the Code',
    'description: "  Review it  "',
    'selection: required',
    'languages: [typescript, python]',
    'temperature: 0.5',
    'maxTokens: 300',
    'output: insert',
    '---',
    'Review {{ selection }} in {{ language }}.',
    '',
  ].join('\n');
  const { prompt, diagnostics } = parsePromptFile(text, URI);
  assert.deepEqual(diagnostics.map(fmt), []);
  assert.ok(prompt);
  assert.equal(prompt.name, 'review-code');
  assert.equal(prompt.title, 'Review the Code');
  assert.equal(prompt.description, 'Review it');
  assert.equal(prompt.selection, 'required');
  assert.deepEqual(prompt.languages, ['typescript', 'python']);
  assert.equal(prompt.temperature, 0.5);
  assert.equal(prompt.maxTokens, 300);
  assert.equal(prompt.output, 'insert');
  assert.equal(prompt.userTemplate, 'Review {{ selection }} in {{ language }}.\n');
  assert.equal(prompt.systemTemplate, undefined);
  assert.deepEqual(prompt.variables, ['selection', 'language']);
  assert.equal(prompt.uri, URI);
  assert.deepEqual(prompt.nameRange, rangeOf(text, 'review-code'));
});

test('defaults: name from the file, optional selection, every language, chat output, no sampling overrides', () => {
  const { prompt, diagnostics } = parsePromptFile('---\n---\nHello\n', 'file:///w/.moecode/prompts/Write_Tests.prompt');
  assert.deepEqual(diagnostics, []);
  assert.ok(prompt);
  assert.equal(prompt.name, 'write-tests');
  assert.equal(prompt.title, 'Write Tests');
  assert.equal(prompt.description, '');
  assert.equal(prompt.selection, 'optional');
  assert.deepEqual(prompt.languages, []);
  assert.equal(prompt.output, 'chat');
  assert.equal('temperature' in prompt, false);
  assert.equal('maxTokens' in prompt, false);
  assert.deepEqual(prompt.variables, []);
});

test('languages: a single string is one language, "*" means every language', () => {
  assert.deepEqual(parsePromptFile('---\nlanguages: rust\n---\nx\n', URI).prompt?.languages, ['rust']);
  assert.deepEqual(parsePromptFile('---\nlanguages: [go, "*"]\n---\nx\n', URI).prompt?.languages, []);
});

test('CRLF line ends and a BOM: same definition, columns as VS Code counts them', () => {
  const lf = '---\nname: crlf\ntemprature: 1\n---\nHi {{ selection }}\n';
  const crlf = '\uFEFF' + lf.replace(/\n/g, '\r\n');
  const a = parsePromptFile(lf, URI);
  const b = parsePromptFile(crlf, URI);
  assert.deepEqual(b.diagnostics.map(fmt), a.diagnostics.map(fmt));
  assert.deepEqual(only(b.diagnostics, 'unknown-key').range, rangeOf(lf, 'temprature'));
  const ok = parsePromptFile('\uFEFF---\r\nname: crlf\r\n---\r\nHi {{ selection }}\r\n', URI);
  assert.equal(ok.prompt?.userTemplate, 'Hi {{ selection }}\n');
});

test('missing front matter: error on the first line, no prompt', () => {
  const text = '# Explain\n{{ selection }}\n';
  const { prompt, diagnostics } = parsePromptFile(text, URI);
  assert.equal(prompt, undefined);
  const d = only(diagnostics, 'missing-front-matter');
  assert.equal(d.severity, 'error');
  assert.deepEqual(d.range, rangeOf(text, '# Explain'));
});

test('unclosed front matter: error at the opening ---', () => {
  const text = '---\nname: x\nExplain {{ selection }}\n';
  const { prompt, diagnostics } = parsePromptFile(text, URI);
  assert.equal(prompt, undefined);
  assert.deepEqual(only(diagnostics, 'unclosed-front-matter').range, rangeOf(text, '---'));
});

test('malformed YAML: the yaml parser error at its position', () => {
  const text = '---\nname: x\ntemperature: [0.2\ndescription: d\n---\nBody\n';
  const { prompt, diagnostics } = parsePromptFile(text, URI);
  assert.equal(prompt, undefined);
  const errors = diagnostics.filter((d) => d.code === 'yaml-syntax');
  assert.ok(errors.length >= 1, diagnostics.map(fmt).join('\n'));
  // The flow sequence opened on line 2 is never closed: every error lies on lines 2-3, inside the front matter.
  for (const e of errors) {
    assert.equal(e.severity, 'error');
    assert.ok(e.range.start.line >= 2 && e.range.end.line <= 3, fmt(e));
  }
});

test('duplicate keys are a YAML error at the second key', () => {
  const text = '---\nname: a\nname: b\n---\nBody\n';
  const d = only(parsePromptFile(text, URI).diagnostics, 'yaml-syntax');
  assert.deepEqual(d.range.start, rangeOf(text, 'name', 1).start);
});

test('front matter that is not a map', () => {
  const text = '---\n- a\n- b\n---\nBody\n';
  const d = only(parsePromptFile(text, URI).diagnostics, 'front-matter-not-a-map');
  assert.equal(d.range.start.line, 1);
});

test('unknown key: error at the key, with a suggestion', () => {
  const text = '---\nname: x\ntemprature: 0.2\nfoo: 1\n---\nBody\n';
  const { prompt, diagnostics } = parsePromptFile(text, URI);
  assert.equal(prompt, undefined);
  const unknown = diagnostics.filter((d) => d.code === 'unknown-key');
  assert.deepEqual(unknown.map((d) => d.range), [rangeOf(text, 'temprature'), rangeOf(text, 'foo')]);
  assert.match(unknown[0].message, /Did you mean 'temperature'\?/);
  assert.doesNotMatch(unknown[1].message, /Did you mean/);
});

test('bad types and values: each at its value', () => {
  const cases: [string, string, 'bad-type' | 'bad-value'][] = [
    ['name: 42', '42', 'bad-type'],
    ['name: Has Spaces', 'Has Spaces', 'bad-value'],
    ['name: -dash', '-dash', 'bad-value'],
    ['description: [a, b]', '[a, b]', 'bad-type'],
    ['title: 12', '12', 'bad-type'],
    ['title: ""', '""', 'bad-type'],
    ['selection: sometimes', 'sometimes', 'bad-value'],
    ['selection: 1', '1', 'bad-type'],
    ['output: file', 'file', 'bad-value'],
    ['temperature: hot', 'hot', 'bad-type'],
    ['temperature: "0.2"', '"0.2"', 'bad-type'],
    ['temperature: 2.5', '2.5', 'bad-value'],
    ['temperature: -0.1', '-0.1', 'bad-value'],
    ['maxTokens: 0', '0', 'bad-value'],
    ['maxTokens: 12.5', '12.5', 'bad-value'],
    ['maxTokens: many', 'many', 'bad-type'],
    ['languages: 7', '7', 'bad-type'],
    ['languages: [ts, 3]', '3', 'bad-type'],
  ];
  for (const [line, value, code] of cases) {
    const text = `---\n${line}\n---\nBody\n`;
    const { prompt, diagnostics } = parsePromptFile(text, URI);
    assert.equal(prompt, undefined, line);
    const d = only(diagnostics, code);
    assert.equal(d.severity, 'error', line);
    assert.deepEqual(d.range, rangeOf(text, value), `${line}: ${fmt(d)}`);
  }
});

test('an empty value is a bad type at its key', () => {
  const text = '---\ndescription:\n---\nBody\n';
  const d = only(parsePromptFile(text, URI).diagnostics, 'bad-type');
  assert.deepEqual(d.range, rangeOf(text, 'description'));
});

test('several errors in one file are all reported', () => {
  const text = '---\nname: x\nselection: maybe\nmaxTokens: -5\nbogus: 1\n---\nHi {{ selecton }}\n';
  const codes = parsePromptFile(text, URI).diagnostics.map((d) => d.code).sort();
  assert.deepEqual(codes, ['bad-value', 'bad-value', 'unknown-key', 'unknown-variable']);
});

test('an invalid file name without a name key is an error', () => {
  const { prompt, diagnostics } = parsePromptFile('---\n---\nBody\n', 'file:///w/.moecode/prompts/%F0%9F%98%80.prompt');
  assert.equal(prompt, undefined);
  assert.equal(only(diagnostics, 'bad-value').range.start.line, 0);
});

test('promptNameFromUri', () => {
  assert.equal(promptNameFromUri('file:///a/b/explain.prompt'), 'explain');
  assert.equal(promptNameFromUri('file:///a/b/Write%20Tests.prompt'), 'write-tests');
  assert.equal(promptNameFromUri('C:\\a\\b\\fix_it.prompt'), 'fix-it');
  assert.equal(promptNameFromUri('file:///a/b/9lives.prompt'), undefined);
});

test('warnings do not skip the file: selection: none with {{ selection }}, output: replace with selection: none', () => {
  const text = '---\nselection: none\noutput: replace\n---\nA {{ selection }} and {{ selection }}\n';
  const { prompt, diagnostics } = parsePromptFile(text, URI);
  assert.ok(prompt, diagnostics.map(fmt).join('\n'));
  const unused = diagnostics.filter((d) => d.code === 'unused-selection');
  assert.deepEqual(unused.map((d) => d.range), [rangeOf(text, 'selection', 1), rangeOf(text, 'selection', 2)]);
  assert.ok(unused.every((d) => d.severity === 'warning'));
  const replace = only(diagnostics, 'output-needs-selection');
  assert.equal(replace.severity, 'warning');
  assert.deepEqual(replace.range, rangeOf(text, 'replace'));
});

test('a long run of blank characters is refused before the template parser sees it (its regex is quadratic in the run)', () => {
  const body = `Explain {{ selection }}${' '.repeat(200_000)}done\n`;
  const t0 = performance.now();
  const { prompt, diagnostics } = parsePromptFile(`---\nname: spaced\n---\n${body}`, URI);
  const ms = performance.now() - t0;
  assert.equal(prompt, undefined);
  const d = diagnostics.find((x) => x.code === 'file-too-large');
  assert.ok(d, JSON.stringify(diagnostics));
  assert.match(d.message, /run of more than 1,024 blank characters/);
  assert.equal(d.range.start.line, 3);
  assert.ok(ms < 10_000, `took ${ms} ms`); // a hang guard: the unguarded parse takes tens of seconds
  // a run at the limit still loads
  assert.ok(parsePromptFile(`---\nname: spaced\n---\nExplain {{ selection }}${' '.repeat(1000)}done\n`, URI).prompt);
});
