/**
 * The held-out exact-match evaluation, asked of the product itself: the real daemon process over LSP
 * (`textDocument/inlineCompletion`, as an editor asks), so the number includes everything a user gets — the
 * FIM prompt in the model's order, token healing, the KV cache, the stop rules and post filters. Each case (from
 * `eval.py --dump-cases`) becomes a document `prefix + suffix` — the rest of the line not written yet, the suffix
 * starting with the newline that ends it, as in eval.py — with the cursor after the prefix; a hit is a
 * suggestion whose first line equals the rest of the line (trailing spaces ignored).
 *
 *   /usr/bin/python3 tools/train/eval.py --max-overlap 0.3 --dump-cases tools/train/work/cases-clean.json
 *   node --import tsx tools/train/eval-daemon.ts tools/train/work/cases-clean.json [--model PATH] [--json OUT]
 *
 * Default model: the shipped one (models/moecode-coder.gguf). Greedy, at most 32 new tokens.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defaultModelPath } from '../../daemon/cli/default-model.js';
import { startDaemon } from '../../test/lsp/daemon-harness.js';

interface Case {
  lang: string;
  prefix: string;
  line: string;
  next: string;
  suffix: string;
}

interface Item {
  insertText: string | { value: string };
  range?: { start: { line: number; character: number } };
}

function bucket(rest: string): string {
  const n = rest.trimEnd().length;
  return n <= 10 ? 'rest<=10' : n <= 30 ? 'rest<=30' : 'rest>30';
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { model: { type: 'string' }, json: { type: 'string' }, 'max-tokens': { type: 'string' } } });
  const casesPath = positionals[0];
  if (!casesPath) throw new Error('usage: eval-daemon.ts CASES.json [--model PATH] [--json OUT] [--max-tokens N]');
  const model = values.model ?? defaultModelPath();
  if (!model) throw new Error('no model: pass --model or install models/moecode-coder.gguf');
  const cases = JSON.parse(readFileSync(casesPath, 'utf8')) as Case[];
  const maxTokens = Number(values['max-tokens'] ?? 32);
  const daemon = await startDaemon({ settings: { model: { path: model }, completion: { maxTokens, temperature: 0 } } });
  const counts = new Map<string, [number, number]>();
  const add = (key: string, hit: boolean) => {
    const [n, h] = counts.get(key) ?? [0, 0];
    counts.set(key, [n + 1, h + (hit ? 1 : 0)]);
  };
  let shown = 0;
  const examples: { want: string; got: string }[] = [];
  const t0 = performance.now();
  try {
    await daemon.waitForState(['ready'], 180_000);
    for (const [i, c] of cases.entries()) {
      const uri = `file:///eval/case-${i}.${c.lang === 'python' ? 'py' : c.lang === 'typescript' ? 'ts' : 'js'}`;
      daemon.open(uri, c.prefix + c.suffix, c.lang);
      const lines = c.prefix.split('\n');
      const r = await daemon.inline(uri, lines.length - 1, lines.at(-1)!.length, { triggerKind: 1 }).response;
      daemon.close(uri);
      if (r.error) throw new Error(`case ${i}: ${JSON.stringify(r.error)}`);
      const items = (r.result as { items: Item[] }).items;
      let got = '';
      if (items.length) {
        const it = items[0]!;
        const text = typeof it.insertText === 'string' ? it.insertText : it.insertText.value;
        // an item replacing from an earlier column repeats what is already typed there
        const already = it.range ? lines.at(-1)!.length - it.range.start.character : 0;
        got = text.slice(already);
      }
      if (got.trim()) shown++;
      const first = got.split('\n')[0]!;
      const hit = first.trimEnd() === c.line.trimEnd();
      for (const key of ['all', c.lang, bucket(c.line)]) add(key, hit);
      if (examples.length < 12) examples.push({ want: c.line, got: first });
      if ((i + 1) % 20 === 0) process.stderr.write(`${i + 1}/${cases.length} cases\n`);
    }
  } finally {
    await daemon.shutdownAndExit().catch(() => daemon.child.kill());
  }
  const report = {
    model,
    cases: cases.length,
    restOfLineExact: (counts.get('all')![1] / cases.length),
    suggestionShown: shown / cases.length,
    byKey: Object.fromEntries([...counts].map(([k, [n, h]]) => [k, `${h}/${n}`])),
    seconds: (performance.now() - t0) / 1000,
    examples,
  };
  console.log(JSON.stringify(report, null, 1));
  if (values.json) writeFileSync(values.json, JSON.stringify(report, null, 1));
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
