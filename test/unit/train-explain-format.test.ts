/**
 * The explanation samples the shipped model is trained on (tools/train/explain-data.py + prep-data.py
 * chatml_tokens) must be laid out exactly as the daemon asks for an explanation: the same system prompt and
 * user message text (daemon/features/explain-prompt.ts), and a token layout equal to the daemon's rendering of
 * the chat template tokenized with the shipped model's tokenizer. The Python side runs through Debian's
 * /usr/bin/python3; skips without it.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { encodeChat } from '../../daemon/engine/chat-encode.js';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';
import { explainMessages } from '../../daemon/features/explain-prompt.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';

const PY = '/usr/bin/python3';
const TRAIN = join(__dirname, '..', '..', 'tools', 'train');
const SHIPPED = join(__dirname, '..', '..', 'models', 'moecode-coder.gguf');

const CASES = [
  { lang: 'python', path: 'heapq.py', lines: [137, 145] as [number, number], code: 'def heappop(heap):\n    lastelt = heap.pop()\n    return lastelt' },
  { lang: 'typescript', path: 'src/a.ts', lines: [3, 3] as [number, number], code: 'export const x = `a${b}`;' },
  { lang: 'javascript', path: 'lib/md.js', lines: [1, 4] as [number, number], code: 'function f() {\n  return "```js\\n";\n}\n' },
];

const PROBE = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location('explain', 'explain-data.py')
ex = importlib.util.module_from_spec(spec); spec.loader.exec_module(ex)
cases = json.load(sys.stdin)
print(json.dumps({'system': ex.SYSTEM, 'users': [ex.explain_user_message(c['lang'], c['path'], c['lines'][0], c['lines'][1], c['code']) for c in cases]}))
`;

test('explanation training samples use the daemon’s exact explain prompt', (t) => {
  try {
    execFileSync(PY, ['-c', 'import ast, json'], { stdio: 'pipe' });
  } catch {
    return t.skip(`${PY} is not available`);
  }
  const out = JSON.parse(execFileSync(PY, ['-c', PROBE], { cwd: TRAIN, input: JSON.stringify(CASES) }).toString()) as { system: string; users: string[] };
  CASES.forEach((c, i) => {
    const messages = explainMessages({ languageId: c.lang, path: c.path, lines: c.lines, code: c.code, before: '', after: '' });
    assert.deepEqual(
      messages.map((m) => [m.role, m.content]),
      [['system', out.system], ['user', out.users[i]!]],
    );
  });
});

test('chatml_tokens piecewise layout equals the rendered template tokenized by the daemon', async (t) => {
  if (!existsSync(SHIPPED)) return t.skip('models/moecode-coder.gguf is missing');
  const file = await openGguf(SHIPPED);
  const template = file.metadata.get('tokenizer.chat_template') as string;
  const tok = Tokenizer.fromData(tokenizerDataFromGguf(file.metadata), { warn: () => {} });
  await file.close();
  const special = (s: string) => {
    const ids = tok.encode(s, { parseSpecial: true, addBos: false });
    assert.equal(ids.length, 1, `${s} is one special token`);
    return ids[0]!;
  };
  const enc = (s: string) => tok.encode(s, { parseSpecial: false, addBos: false });
  const [start, end] = [special('<|im_start|>'), special('<|im_end|>')];
  for (const c of CASES) {
    const messages = explainMessages({ languageId: c.lang, path: c.path, lines: c.lines, code: c.code, before: '', after: '' });
    const daemon = await encodeChat({ tokenizer: tok, chatTemplate: template }, messages);
    // prep-data.py chatml_tokens, up to the answer
    const layout = [
      ...messages.flatMap((m) => [start, ...enc(`${m.role}\n${m.content}`), end, ...enc('\n')]),
      start,
      ...enc('assistant\n'),
    ];
    assert.deepEqual(daemon, layout, c.path);
  }
});
