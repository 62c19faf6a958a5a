// Rendering, the built-in prompts, the prompt set's precedence rules, slash commands and code extraction.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { EXPLAIN_ASK } from '../../daemon/features/explain-prompt.js';
import { TemplateSandbox } from '../../daemon/template/template-sandbox';
import type { PromptOrigin } from '../../extension/prompts/prompt-format';
import { checkPromptFile, parsePromptFile } from '../../extension/prompts/prompt-parser';
import { appliesToLanguage, extractCode, parseSlashCommand, PromptRenderError, renderPrompt, toChatMessages } from '../../extension/prompts/prompt-render';
import { BUILTIN_PROMPTS, resolvePromptSet, type PromptFileResult } from '../../extension/prompts/prompt-set';
import { fmt } from './prompt-test-helpers';

const BUILTIN_DIR = join(__dirname, '..', '..', 'extension', 'prompts', 'builtin');
const sandbox = new TemplateSandbox();
after(() => sandbox.dispose());
const render = (p: Parameters<typeof renderPrompt>[0], values: Parameters<typeof renderPrompt>[1]) => renderPrompt(p, values, sandbox);
const FIXTURES = join(__dirname, '..', 'fixtures', 'prompts');

function load(text: string, uri = 'file:///w/.moecode/prompts/p.prompt') {
  const { prompt, diagnostics } = parsePromptFile(text, uri);
  assert.ok(prompt, diagnostics.map(fmt).join('\n'));
  return prompt;
}

test('renders variables, filters and control flow; missing variables are empty strings', async () => {
  const p = load('---\nname: r\n---\nReview {{ selection }} in {{ language | upper }}.\n{% if input %}\nFocus: {{ input }}\n{% endif %}\nDone\n');
  assert.deepEqual(await render(p, { selection: 'let x', language: 'ts', input: 'speed' }), { user: 'Review let x in TS.\nFocus: speed\nDone' });
  assert.deepEqual(await render(p, { selection: 'let x', language: 'ts' }), { user: 'Review let x in TS.\nDone' });
  assert.deepEqual(await render(p, {}), { user: 'Review  in .\nDone' });
});

test('values are inserted as they are: no HTML escaping, no template evaluation of the values', async () => {
  const p = load('---\nname: r\n---\n<{{ selection }}>\n');
  assert.equal((await render(p, { selection: 'a < b && "{{ path }}"', path: 'NO' })).user, '<a < b && "{{ path }}">');
});

test('the system part renders on its own; an empty one is left out', async () => {
  const p = load('---\nname: s\n---\n{% system %}\nYou know {{ language }}.\n{% endsystem %}\nExplain {{ selection }}\n');
  const r = await render(p, { language: 'rust', selection: 'fn main() {}' });
  assert.deepEqual(r, { system: 'You know rust.', user: 'Explain fn main() {}' });
  assert.deepEqual(toChatMessages(r), [
    { role: 'system', content: 'You know rust.' },
    { role: 'user', content: 'Explain fn main() {}' },
  ]);
  const empty = load('---\nname: s\n---\n{% system %}{% if input %}{{ input }}{% endif %}{% endsystem %}Hi\n');
  assert.deepEqual(await render(empty, {}), { user: 'Hi' });
  assert.deepEqual(toChatMessages({ user: 'Hi' }), [{ role: 'user', content: 'Hi' }]);
});

test('the fixture with every feature parses and renders', async () => {
  const text = readFileSync(join(FIXTURES, 'full.prompt'), 'utf8');
  const p = load(text, 'file:///fixtures/full.prompt');
  assert.equal(p.name, 'review-changes');
  assert.deepEqual(p.languages, ['typescript', 'javascript']);
  const r = await render(p, { language: 'ts', path: 'a.ts', selection: 'x = 1\n\ny = 2', input: '  naming ' });
  assert.equal(r.system, 'You are a **strict** reviewer of TS code.');
  assert.equal(r.user, ['# Review of a.ts', '', 'Focus on: *naming*', '1: `x = 1`', '2: `y = 2`', '', '```ts', 'x = 1', '', 'y = 2', '```'].join('\n'));
  assert.match((await render(p, { file: 'WHOLE', language: 'ts' })).user, /```ts\nWHOLE\n```$/);
});

test('the malformed fixtures are rejected with the expected diagnostics', () => {
  const expect: Record<string, string[]> = {
    'unclosed-expression.prompt': ['unclosed-tag@3:8'],
    'unclosed-front-matter.prompt': ['unclosed-front-matter@0:0'],
    'no-front-matter.prompt': ['missing-front-matter@0:0'],
    'stray-tags.prompt': ['unknown-tag@4:3', 'unbalanced-block@3:0'],
  };
  for (const [file, codes] of Object.entries(expect)) {
    const { prompt, diagnostics } = parsePromptFile(readFileSync(join(FIXTURES, file), 'utf8'), `file:///fixtures/${file}`);
    assert.equal(prompt, undefined, file);
    assert.deepEqual(diagnostics.map((d) => `${d.code}@${d.range.start.line}:${d.range.start.character}`), codes, `${file}\n${diagnostics.map(fmt).join('\n')}`);
  }
});

test('the built-in prompts: one file per built-in action, each valid, reading the selection', async () => {
  const files = readdirSync(BUILTIN_DIR).filter((f) => f.endsWith('.prompt')).sort();
  assert.deepEqual(files, [...BUILTIN_PROMPTS].map((n) => `${n}.prompt`).sort());
  for (const name of BUILTIN_PROMPTS) {
    const { prompt, diagnostics } = await checkPromptFile(readFileSync(join(BUILTIN_DIR, `${name}.prompt`), 'utf8'), `builtin:${name}.prompt`, sandbox);
    assert.deepEqual(diagnostics.map(fmt), [], name);
    assert.ok(prompt);
    assert.equal(prompt.name, name);
    assert.match(prompt.title, / Selection$/, name);
    assert.equal(prompt.selection, 'required', name);
    assert.ok(prompt.description.length > 0, name);
    const r = await render(prompt, { selection: 'SELECTED_CODE', language: 'python', path: 'src/app.py' });
    assert.ok(r.user.includes('```python\nSELECTED_CODE\n```'), `${name}: ${r.user}`);
    assert.ok(r.user.includes('src/app.py'), name);
    if (name === 'explain') {
      // asks as moecode/code/explain does, under the daemon's default system prompt (what the shipped model learned)
      assert.equal(prompt.systemTemplate, undefined);
      assert.equal(r.user.trimEnd(), `${EXPLAIN_ASK}\n\nThe code is python from \`src/app.py\`:\n\`\`\`python\nSELECTED_CODE\n\`\`\``);
    } else {
      assert.ok(r.system?.includes('python'), name);
    }
  }
});

function file(uri: string, origin: PromptOrigin, text: string): PromptFileResult {
  return { uri, origin, result: parsePromptFile(text, uri) };
}

test('prompt set: workspace over user over built-in; same-origin duplicates warned at the name', () => {
  const set = resolvePromptSet([
    file('builtin:explain.prompt', 'builtin', '---\nname: explain\n---\nbuiltin\n'),
    file('builtin:fix.prompt', 'builtin', '---\nname: fix\n---\nbuiltin fix\n'),
    file('file:///home/u/.moecode/prompts/explain.prompt', 'user', '---\nname: explain\n---\nuser\n'),
    file('file:///home/u/.moecode/prompts/review.prompt', 'user', '---\nname: review\n---\nuser review\n'),
    file('file:///w1/.moecode/prompts/a.prompt', 'workspace', '---\nname: explain\n---\nworkspace\n'),
    file('file:///w2/.moecode/prompts/b.prompt', 'workspace', '---\nname:   explain\n---\nsecond workspace\n'),
    file('file:///w1/.moecode/prompts/broken.prompt', 'workspace', '---\nname: broken\nbad: 1\n---\nx\n'),
  ]);
  assert.deepEqual(set.prompts.map((p) => `${p.name}:${p.origin}:${p.userTemplate.trim()}`), ['explain:workspace:workspace', 'fix:builtin:builtin fix', 'review:user:user review']);
  const explain = set.prompts[0];
  assert.equal(explain.uri, 'file:///w1/.moecode/prompts/a.prompt');
  assert.equal(explain.overrides, 'file:///home/u/.moecode/prompts/explain.prompt');
  assert.deepEqual(explain.overridesBuiltin, { uri: 'builtin:explain.prompt', title: 'Explain' });
  assert.deepEqual(
    set.diagnostics.get('file:///w1/.moecode/prompts/a.prompt')!.map((d) => [d.code, d.severity, d.range.start.line]),
    [['overrides-builtin', 'information', 1]],
    'the file that takes a built-in\'s place says so',
  );
  assert.equal(set.prompts.find((p) => p.name === 'review')!.overridesBuiltin, undefined);

  const dup = set.diagnostics.get('file:///w2/.moecode/prompts/b.prompt')!;
  assert.equal(dup.length, 1);
  assert.equal(dup[0].code, 'duplicate-name');
  assert.equal(dup[0].severity, 'warning');
  assert.deepEqual(dup[0].range, { start: { line: 1, character: 8 }, end: { line: 1, character: 15 } });
  const shadowedUser = set.diagnostics.get('file:///home/u/.moecode/prompts/explain.prompt')!;
  assert.deepEqual(shadowedUser.map((d) => [d.code, d.severity]), [['duplicate-name', 'information']]);
  assert.deepEqual(set.diagnostics.get('builtin:explain.prompt'), []);
  assert.deepEqual(set.diagnostics.get('file:///w1/.moecode/prompts/broken.prompt')!.map((d) => d.code), ['unknown-key']);
});

test('a real render past its limits fails with a PromptRenderError naming the prompt file, and the next render works', async () => {
  const uri = 'file:///w/.moecode/prompts/square.prompt';
  // harmless with the sample values of a check, quadratic in the real selection
  const p = load('---\nname: square\n---\n{% for a in range(selection|length) %}{% for b in range(selection|length) %}{% endfor %}{% endfor %}{{ selection }}\n', uri);
  const t0 = Date.now();
  await assert.rejects(renderPrompt(p, { selection: 'x'.repeat(90_000) }, sandbox, { timeoutMs: 1_000, maxHeapMb: 64, maxOutputChars: 1_000_000 }), (e: unknown) => {
    assert.ok(e instanceof PromptRenderError, String(e));
    assert.equal(e.limit?.kind, 'timeout');
    assert.match(e.message, /\/square \(file:\/\/\/w\/\.moecode\/prompts\/square\.prompt\)/);
    assert.match(e.message, /longer than 1 s/);
    return true;
  });
  assert.ok(Date.now() - t0 < 4_000, `stopped after ${Date.now() - t0} ms`);

  const echo = load('---\nname: echo\n---\n{% for i in range(selection|length) %}{{ selection }}{% endfor %}\n', uri);
  await assert.rejects(renderPrompt(echo, { selection: 'y'.repeat(2_000) }, sandbox), (e: unknown) => e instanceof PromptRenderError && e.limit?.kind === 'output' && /longer than 2,097,152 characters/.test(e.message));
  assert.deepEqual(await render(echo, { selection: 'ab' }), { user: 'abab' });
});

test('only the variables a prompt reads are sent to the worker', async () => {
  const p = load('---\nname: lang\n---\n{{ language }}\n');
  assert.deepEqual(p.variables, ['language']);
  // a file far past the output limit does not matter to a prompt that does not read it
  assert.deepEqual(await render(p, { language: 'go', file: 'z'.repeat(3_000_000) }), { user: 'go' });
});

test('appliesToLanguage', () => {
  assert.equal(appliesToLanguage({ languages: [] }, 'go'), true);
  assert.equal(appliesToLanguage({ languages: ['go', 'rust'] }, 'rust'), true);
  assert.equal(appliesToLanguage({ languages: ['go'] }, 'python'), false);
});

test('parseSlashCommand', () => {
  assert.deepEqual(parseSlashCommand('/explain'), { name: 'explain', input: '' });
  assert.deepEqual(parseSlashCommand('  /write-tests  with pytest\nand fixtures '), { name: 'write-tests', input: 'with pytest\nand fixtures' });
  assert.equal(parseSlashCommand('explain /this'), undefined);
  assert.equal(parseSlashCommand('/Explain'), undefined);
  assert.equal(parseSlashCommand('/ explain'), undefined);
});

test('extractCode: the longest fenced block, or the whole answer without one', () => {
  assert.equal(extractCode('  const x = 1;\n'), 'const x = 1;');
  assert.equal(extractCode('Here:\n```ts\nconst x = 1;\nconst y = 2;\n```\nDone.'), 'const x = 1;\nconst y = 2;');
  assert.equal(extractCode('Use `f()`:\n```\nf()\n```\nFull:\n~~~python\ndef f():\n    return 1\n~~~\n'), 'def f():\n    return 1');
  assert.equal(extractCode('````md\n```js\nx\n```\n````'), '```js\nx\n```');
});

test('a trial render the render process cannot run (here: a disposed sandbox) is a warning, not a broken template', async () => {
  const gone = new TemplateSandbox();
  gone.dispose();
  const { prompt, diagnostics } = await checkPromptFile('---\nname: ok\n---\nExplain {{ selection }}\n', 'file:///w/.moecode/prompts/ok.prompt', gone);
  assert.ok(prompt, JSON.stringify(diagnostics));
  const d = diagnostics.find((x) => x.code === 'template-unchecked');
  assert.equal(d?.severity, 'warning', JSON.stringify(diagnostics));
  assert.match(d!.message, /could not be trial-rendered now: .*disposed/);
});
