// Template body validation: each diagnostic kind at its exact range, the system block, and what stays valid.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { TemplateSandbox } from '../../daemon/template/template-sandbox';
import { checkPromptFile, parsePromptFile } from '../../extension/prompts/prompt-parser';
import { fmt, only, rangeOf } from './prompt-test-helpers';

const URI = 'file:///w/.moecode/prompts/t.prompt';
const FRONT = '---\nname: t\n---\n';
const parse = (body: string) => parsePromptFile(FRONT + body, URI);
const sandbox = new TemplateSandbox();
after(() => sandbox.dispose());
/** With the trial render (in the bounded worker) that finds unknown filters and runtime errors. */
const check = (body: string) => checkPromptFile(FRONT + body, URI, sandbox);

test('missing body: error on the closing --- line', () => {
  for (const text of ['---\nname: t\n---\n', '---\nname: t\n---\n  \n\n', '---\nname: t\n---']) {
    const { prompt, diagnostics } = parsePromptFile(text, URI);
    assert.equal(prompt, undefined);
    const d = only(diagnostics, 'missing-body');
    assert.deepEqual(d.range, rangeOf(text, '---', 1), JSON.stringify(text));
  }
});

test('a body with only a system part is a missing body, at {% endsystem %}', () => {
  const body = '{% system %}You are terse.{% endsystem %}\n\n';
  const d = only(parse(body).diagnostics, 'missing-body');
  assert.deepEqual(d.range, rangeOf(FRONT + body, '{% endsystem %}'));
});

test('unknown variables: each use, with a suggestion for near misses', () => {
  const body = 'Explain {{ selecton }} in {{ langauge }}.\n{% if foo %}{{ bar.baz }}{% endif %}\n';
  const text = FRONT + body;
  const { prompt, diagnostics } = parse(body);
  assert.equal(prompt, undefined);
  const unknown = diagnostics.filter((d) => d.code === 'unknown-variable');
  assert.deepEqual(unknown.map((d) => d.range), [rangeOf(text, 'selecton'), rangeOf(text, 'langauge'), rangeOf(text, 'foo'), rangeOf(text, 'bar')]);
  assert.match(unknown[0].message, /Did you mean 'selection'\?/);
  assert.match(unknown[1].message, /Did you mean 'language'\?/);
  assert.equal(diagnostics.length, 4, diagnostics.map(fmt).join('\n'));
});

test('names that are not variables: attributes, filters, tests, keyword arguments, literals, engine globals', () => {
  const body = [
    '{{ selection.split("\\n") | length }} {{ path | replace("a", "b") | upper }}',
    '{{ input is defined and input is not none }} {{ true or false or none }}',
    '{{ range(3) | join(", ") }} {% set ns = namespace(count=0) %}{% set ns.count = 2 %}{{ ns.count }}',
    '{{ "x" if language == "py" else "y" }} {{ [1, 2][0] }} {{ {"a": file}["a"] }}',
    '',
  ].join('\n');
  const { prompt, diagnostics } = parse(body);
  assert.deepEqual(diagnostics.map(fmt), []);
  assert.deepEqual(prompt?.variables, ['selection', 'file', 'language', 'path', 'input']);
});

test('scopes: for binds its targets and loop inside only; set binds after; macro binds its parameters', () => {
  const ok = '{% for a, b in [[1, 2]] %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{% set x = 1 %}{{ x }}{% macro m(p, q=language) %}{{ p }}{{ q }}{{ caller }}{% endmacro %}{{ m(1) }}\n';
  assert.deepEqual(parse(ok).diagnostics.map(fmt), []);
  const body = '{{ x }}{% set x = 1 %}{% for a in [1] %}{% endfor %}{{ a }}{{ loop }}{% macro m(p) %}{% endmacro %}{{ p }}\n';
  const text = FRONT + body;
  const unknown = parse(body).diagnostics.filter((d) => d.code === 'unknown-variable');
  assert.deepEqual(unknown.map((d) => d.range), [rangeOf(text, 'x'), rangeOf(text, 'a', 2), rangeOf(text, 'loop'), rangeOf(text, 'p', 2)]);
});

test('a block set binds its name', () => {
  assert.deepEqual(parse('{% set intro %}Hi {{ path }}{% endset %}{{ intro }}\n').diagnostics.map(fmt), []);
});

test('unclosed {{ and {%: error at the opening delimiter; an unclosed quote at the quote', () => {
  const cases: [string, string][] = [
    ['Explain {{ selection\n\nmore\n', '{{'],
    ['A {% if selection \nB\n', '{%'],
    ['{# never closed\n', '{#'],
    ['{{ "abc }}\n', '"'],
  ];
  for (const [body, at] of cases) {
    const d = only(parse(body).diagnostics, 'unclosed-tag');
    const r = rangeOf(FRONT + body, at);
    assert.deepEqual(d.range.start, r.start, `${JSON.stringify(body)}: ${fmt(d)}`);
  }
});

test('}} inside a string or a dict literal does not close an expression', () => {
  assert.deepEqual(parse('{{ "}}" ~ selection }} {{ {"a": {"b": 1}}["a"]["b"] }}\n').diagnostics.map(fmt), []);
});

test('syntax error inside one tag: error over that tag only', () => {
  const body = 'Good {{ selection }}\nBad {{ selection + }}\n{% if path == %}x{% endif %}\n';
  const text = FRONT + body;
  const errors = parse(body).diagnostics.filter((d) => d.code === 'template-syntax');
  assert.deepEqual(errors.map((d) => d.range), [rangeOf(text, 'selection +'), rangeOf(text, 'if path ==')]);
  assert.ok(errors.every((d) => d.message.startsWith('Template: ')));
});

test('empty tags and keywords missing their arguments', () => {
  const body = '{{ }}\n{% if %}x{% endif %}\n{% %}\n';
  const text = FRONT + body;
  const errors = parse(body).diagnostics.filter((d) => d.code === 'template-syntax').map((d) => d.range);
  assert.deepEqual(errors, [rangeOf(text, '{{ }}'), rangeOf(text, 'if', 0), rangeOf(text, '{% %}')]);
});

test('unknown tag: error at its keyword, with a suggestion', () => {
  const body = '{% endfo %}\n{% include "x" %}\n';
  const text = FRONT + body;
  const unknown = parse(body).diagnostics.filter((d) => d.code === 'unknown-tag');
  assert.deepEqual(unknown.map((d) => d.range), [rangeOf(text, 'endfo'), rangeOf(text, 'include')]);
  assert.match(unknown[0].message, /Did you mean 'endfor'\?/);
});

test('bare tags take nothing after them', () => {
  const body = '{% if selection %}a{% else if %}b{% endif %}\n';
  const d = only(parse(body).diagnostics, 'template-syntax');
  assert.deepEqual(d.range, rangeOf(FRONT + body, 'if', 1));
});

test('unbalanced blocks: wrong end tag, missing end tag, stray else and break', () => {
  const body = [
    '{% if selection %}', // line 3
    '{% for l in file %}{% endif %}', // 4: endif closes the if, leaving the for unclosed
    '{% endfor %}', // 5: nothing open
    '{% else %}', // 6
    '{% break %}', // 7
    '{% if path %}{% else %}{% elif input %}{% endif %}', // 8: elif after else
    '{% macro m() %}', // 9: never closed
    '',
  ].join('\n');
  const text = FRONT + body;
  const diags = parse(body).diagnostics;
  const unbalanced = diags.filter((d) => d.code === 'unbalanced-block');
  assert.deepEqual(
    unbalanced.map((d) => d.range),
    [
      rangeOf(text, '{% for l in file %}'),
      rangeOf(text, '{% endfor %}'),
      rangeOf(text, '{% else %}', 0),
      rangeOf(text, '{% break %}'),
      rangeOf(text, '{% elif input %}'),
      rangeOf(text, '{% macro m() %}'),
    ],
    unbalanced.map(fmt).join('\n'),
  );
  assert.match(unbalanced[0].message, /not closed before \{% endif %\}/);
  assert.equal(diags.length, unbalanced.length, diags.map(fmt).join('\n'));
});

test('the system block: split off, rendered separately, whitespace control allowed', () => {
  const body = 'Intro {{ path }}\n{%- system -%}\nYou review {{ language }}.\n{%- endsystem %}\nThen {{ selection }}\n';
  const { prompt, diagnostics } = parse(body);
  assert.deepEqual(diagnostics.map(fmt), []);
  assert.ok(prompt);
  assert.equal(prompt.systemTemplate, '\nYou review {{ language }}.\n');
  assert.equal(prompt.userTemplate, 'Intro {{ path }}\n\nThen {{ selection }}\n');
  assert.deepEqual(prompt.variables, ['selection', 'language', 'path']);
});

test('misplaced system blocks: nested, twice, unclosed, stray end', () => {
  const nested = '{% if selection %}{% system %}s{% endsystem %}{% endif %}Hi\n';
  const n = parse(nested).diagnostics;
  assert.deepEqual(only(n, 'misplaced-system').range, rangeOf(FRONT + nested, '{% system %}'));
  assert.equal(n.length, 1, n.map(fmt).join('\n'));

  const twice = '{% system %}a{% endsystem %}{% system %}b{% endsystem %}Hi\n';
  assert.deepEqual(only(parse(twice).diagnostics, 'misplaced-system').range, rangeOf(FRONT + twice, '{% system %}', 1));

  const unclosed = 'Hi\n{% system %}\nsystem text\n';
  assert.deepEqual(only(parse(unclosed).diagnostics, 'unbalanced-block').range, rangeOf(FRONT + unclosed, '{% system %}'));

  const stray = 'Hi {% endsystem %}\n';
  assert.deepEqual(only(parse(stray).diagnostics, 'unbalanced-block').range, rangeOf(FRONT + stray, '{% endsystem %}'));
});

test('unknown filter and test: error at the name (found by a trial render)', async () => {
  const body = 'A {{ selection | upperr }}\n';
  assert.ok(parse(body).prompt, 'the static checks alone do not run the template');
  const d = only((await check(body)).diagnostics, 'unknown-filter');
  assert.deepEqual(d.range, rangeOf(FRONT + body, 'upperr'));
  assert.match(d.message, /Unknown filter 'upperr'/);

  const testBody = '{% if selection is shiny %}x{% endif %}\n';
  assert.deepEqual(only((await check(testBody)).diagnostics, 'unknown-filter').range, rangeOf(FRONT + testBody, 'shiny'));

  const blockFilter = '{% filter shout %}x{% endfilter %}\n';
  assert.deepEqual(only((await check(blockFilter)).diagnostics, 'unknown-filter').range, rangeOf(FRONT + blockFilter, 'shout'));
  assert.equal((await check(blockFilter)).prompt, undefined);
});

test('a runtime error that is not a filter is a warning and the prompt still loads', async () => {
  const body = "{{ raise_exception('needs care') }}\n";
  const { prompt, diagnostics } = await check(body);
  assert.ok(prompt);
  const d = only(diagnostics, 'template-runtime');
  assert.equal(d.severity, 'warning');
  assert.match(d.message, /needs care/);
});

test('Markdown that looks like braces is plain text; escaped template syntax renders literally', () => {
  const body = "function f() { return {a: 1}; }\n{{ '{{' }} stays\n";
  assert.deepEqual(parse(body).diagnostics.map(fmt), []);
});

test('diagnostics of a broken body do not depend on a broken front matter, and both are reported', () => {
  const text = '---\nname: t\nbad: 1\n---\n{{ nope }}\n';
  const codes = parsePromptFile(text, URI).diagnostics.map((d) => `${d.code}@${d.range.start.line}`);
  assert.deepEqual(codes, ['unknown-key@2', 'unknown-variable@4']);
});
