import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ActionRegistry, BUILTIN_ACTIONS, rangeLabel, type ActionContext, type ChatAction } from '../../extension/actions';

const ctx: ActionContext = {
  document: { uri: 'file:///w/src/a.ts', languageId: 'typescript', path: 'src/a.ts' },
  selection: { range: { start: { line: 9, character: 0 }, end: { line: 14, character: 0 } }, text: 'function f() {\n  return 1;\n}\n' },
};

test('rangeLabel is 1-based and drops a last line the selection only touches at column 0', () => {
  assert.equal(rangeLabel('a.ts', { start: { line: 9, character: 0 }, end: { line: 14, character: 0 } }), 'a.ts:10-14');
  assert.equal(rangeLabel('a.ts', { start: { line: 9, character: 2 }, end: { line: 9, character: 7 } }), 'a.ts:10');
  assert.equal(rangeLabel('a.ts', { start: { line: 0, character: 0 }, end: { line: 2, character: 1 } }), 'a.ts:1-3');
  assert.equal(rangeLabel('a.ts', undefined), 'a.ts');
});

test('the built-ins are Explain, Fix, Document and Write Tests, each needing a selection', () => {
  assert.deepEqual(BUILTIN_ACTIONS.map((a) => a.id), ['explain', 'fix', 'document', 'tests']);
  assert.deepEqual(BUILTIN_ACTIONS.map((a) => a.title), ['Explain Selection', 'Fix Selection', 'Document Selection', 'Write Tests for Selection']);
  for (const a of BUILTIN_ACTIONS) assert.equal(a.needsSelection, true);
});

test('Explain renders an explain request for the selected range, with the user question', async () => {
  const r = await BUILTIN_ACTIONS[0]!.render({ ...ctx, input: 'why return 1?' });
  assert.equal(r.kind, 'explain');
  if (r.kind !== 'explain') return;
  assert.deepEqual(r.params.textDocument, { uri: ctx.document.uri });
  assert.deepEqual(r.params.range, ctx.selection!.range);
  assert.equal(r.params.question, 'why return 1?');
  assert.equal(r.display.contextLabel, 'src/a.ts:10-14');
});

test('Fix, Document and Write Tests send the selection as an attachment with a task-specific prompt', async () => {
  const prompts = new Set<string>();
  for (const a of BUILTIN_ACTIONS.slice(1)) {
    const r = await a.render(ctx);
    assert.equal(r.kind, 'chat', a.id);
    if (r.kind !== 'chat') continue;
    assert.equal(r.params.attachments?.length, 1);
    const att = r.params.attachments![0]!;
    assert.equal(att.kind, 'selection');
    assert.equal(att.text, ctx.selection!.text);
    assert.equal(att.path, 'src/a.ts');
    assert.equal(att.languageId, 'typescript');
    assert.match(r.params.prompt, /typescript/);
    assert.match(r.params.prompt, /src\/a\.ts/);
    prompts.add(r.params.prompt);
  }
  assert.equal(prompts.size, 3, 'each action asks for something different');
});

test('the registry lets a registered action replace a built-in until it is disposed, and tells listeners', () => {
  const reg = new ActionRegistry();
  let changes = 0;
  reg.onDidChange(() => changes++);
  const custom: ChatAction = { id: 'fix', title: 'Team Fix', needsSelection: true, source: '/w/.moecode/prompts/fix.prompt', render: () => ({ kind: 'chat', display: { text: 'x' }, params: { prompt: 'p' } }) };
  const extra: ChatAction = { ...custom, id: 'review', title: 'Review' };
  const d1 = reg.register(custom);
  const d2 = reg.register(extra);
  assert.equal(reg.get('fix')!.title, 'Team Fix');
  assert.deepEqual(reg.all().map((a) => a.id), ['explain', 'fix', 'document', 'tests', 'review']);
  d1.dispose();
  assert.equal(reg.get('fix')!.title, 'Fix Selection');
  d2.dispose();
  assert.equal(reg.get('review'), undefined);
  assert.equal(changes, 4);
});
