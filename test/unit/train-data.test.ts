/**
 * tools/train data preparation: byte-level BPE round trips, line chunking, and the fill-in-the-middle
 * sample layout (SPM and PSM orders, the three kinds of middle). The Python code is driven through Debian's /usr/bin/python3; skips without it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const PY = '/usr/bin/python3';
const TRAIN = join(__dirname, '..', '..', 'tools', 'train');

function pythonMissing(): string | undefined {
  try {
    execFileSync(PY, ['-c', 'import numpy'], { stdio: 'pipe' });
    return undefined;
  } catch {
    return `${PY} with numpy is not available`;
  }
}

const PROBE = `
import importlib.util, json, random, sys
from bpe import Tokenizer, train, SPECIAL_TOKENS
spec = importlib.util.spec_from_file_location('prep', 'prep-data.py')
prep = importlib.util.module_from_spec(spec); spec.loader.exec_module(prep)
inp = json.load(open(sys.argv[1]))
tok = Tokenizer(train(inp['corpus'], 400, log=lambda s: None))
out = {'n_vocab': tok.n_vocab, 'special': tok.special, 'roundtrip': [], 'chunks': [], 'fim': []}
for s in inp['strings']:
    ids = tok.encode(s)
    out['roundtrip'].append({'ids': ids, 'text': tok.decode(ids)})
for text in inp['corpus']:
    out['chunks'].append(prep.chunks_of(text, 120))
rng = random.Random(5)
for i in range(200):
    text = inp['corpus'][i % len(inp['corpus'])]
    p, m, s = prep.fim_split(text, rng, 0.5)
    out['fim'].append({'text': text, 'p': p, 'm': m, 's': s, 'spm': prep.fim_tokens(tok, p, m, s, 'spm'),
                       'psm': prep.fim_tokens(tok, p, m, s, 'psm'),
                       'p_ids': tok.encode(p), 'm_ids': tok.encode(m), 's_ids': tok.encode(s)})

print(json.dumps(out))
`;

test('BPE round trip, line chunks and FIM sample layout', { timeout: 120_000 }, async (t) => {
  const why = pythonMissing();
  if (why) {
    t.skip(why);
    return;
  }
  const dir = await mkdtemp(join(tmpdir(), 'train-data-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const corpus = [
    await readFile(join(TRAIN, 'bpe.py'), 'utf8'),
    await readFile(join(TRAIN, 'export-gguf.ts'), 'utf8'),
    'def f(x):\n    return x * 2\n\n\nclass A:\n    pass\n',
  ];
  const strings = [
    'const x = 1;\n', '    if (a !== b) {\n\t\treturn;\n    }\n', "it's 12345 o'clock\r\n",
    'naïve café — “quotes” ✓ 日本語 🙂', '   \n\n  trailing   ', '_under_score __init__ $dollar',
  ];
  await writeFile(join(dir, 'in.json'), JSON.stringify({ corpus, strings }));
  await writeFile(join(dir, 'probe.py'), PROBE);
  const raw = execFileSync(PY, [join(dir, 'probe.py'), join(dir, 'in.json')], {
    cwd: TRAIN, env: { ...process.env, PYTHONPATH: TRAIN, OMP_NUM_THREADS: '1' }, maxBuffer: 64 << 20,
  });
  const out = JSON.parse(raw.toString()) as {
    n_vocab: number; special: Record<string, number>;
    roundtrip: { ids: number[]; text: string }[];
    chunks: string[][];
    fim: { text: string; p: string; m: string; s: string; spm: number[]; psm: number[]; p_ids: number[]; m_ids: number[]; s_ids: number[] }[];
  };

  // round trip of arbitrary text, including bytes never seen in training
  strings.forEach((s, i) => {
    assert.equal(out.roundtrip[i]!.text, s);
    for (const id of out.roundtrip[i]!.ids) assert.ok(id >= 0 && id < out.n_vocab && !Object.values(out.special).includes(id));
  });
  // merges happened: common code compresses below one token per byte
  const total = out.roundtrip.reduce((n, r) => n + r.ids.length, 0);
  assert.ok(total < strings.join('').length, 'BPE did not merge anything');

  // chunks: line-aligned, concatenate back to the file, ≤ 120 chars unless a single line is longer
  corpus.forEach((text, i) => {
    const chunks = out.chunks[i]!;
    assert.equal(chunks.join(''), text);
    for (const c of chunks.slice(0, -1)) assert.ok(c.endsWith('\n'), 'chunk does not end at a line end');
    for (const c of chunks) assert.ok(c.length <= 120 || !c.slice(0, -1).includes('\n'), `chunk of ${c.length} chars spans lines`);
  });

  // FIM: the three parts partition the text; SPM puts suffix then prefix before the middle, PSM the reverse
  const sp = out.special;
  let lineEndMiddles = 0;
  let afterNewlineMiddles = 0;
  for (const f of out.fim) {
    assert.equal(f.p + f.m + f.s, f.text);
    const pre = [sp['<|fim_prefix|>']!, ...f.p_ids];
    const suf = [sp['<|fim_suffix|>']!, ...f.s_ids];
    const tail = [sp['<|fim_middle|>']!, ...f.m_ids, sp['<|endoftext|>']!];
    assert.deepEqual(f.spm, [...suf, ...pre, ...tail]);
    assert.deepEqual(f.psm, [...pre, ...suf, ...tail]);
    if (!f.m.endsWith('\n') && (f.s.startsWith('\n') || f.s === '')) lineEndMiddles++;
    if (f.m.length > 0 && f.m.endsWith('\n') && (f.m.match(/\n/g)?.length ?? 0) <= 3) afterNewlineMiddles++;
  }
  // rate 0.5: about half end right before a newline (the suffix starts with it, as at an editor cursor);
  // a quarter are 1-3 lines ending after a newline; the rest random spans
  assert.ok(lineEndMiddles > 80 && lineEndMiddles < 180, `middles ending at a line end: ${lineEndMiddles}/200`);
  assert.ok(afterNewlineMiddles > 25 && afterNewlineMiddles < 100, `middles ending after a newline: ${afterNewlineMiddles}/200`);
});
