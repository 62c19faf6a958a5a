/**
 * Run by prompt-hostile.test.ts in a child process (so that a regression that renders on the caller's thread
 * fails that test instead of hanging or aborting the test runner): checks each hostile prompt file the way the
 * extension's registry does and prints one JSON line per file — how long the static parse and the full check
 * (trial render in the bounded worker) took, the longest the event loop went without a turn meanwhile, and the
 * diagnostics. Then renders a benign prompt in the same sandbox, to show it recovered.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TemplateSandbox } from '../../daemon/template/template-sandbox';
import { checkPromptFile, parsePromptFile } from '../../extension/prompts/prompt-parser';
import { renderPrompt } from '../../extension/prompts/prompt-render';

export const HOSTILE_DIR = join(__dirname, '..', 'fixtures', 'prompts', 'hostile');

/** Runs `work` while a 10 ms timer ticks; returns its result and the longest gap between ticks (ms). */
async function withLoopWatch<T>(work: () => Promise<T>): Promise<{ value: T; ms: number; maxGapMs: number }> {
  let last = Date.now();
  let maxGapMs = 0;
  const tick = setInterval(() => {
    const now = Date.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
  }, 10);
  const t0 = Date.now();
  try {
    const value = await work();
    maxGapMs = Math.max(maxGapMs, Date.now() - last);
    return { value, ms: Date.now() - t0, maxGapMs };
  } finally {
    clearInterval(tick);
  }
}

async function main(): Promise<void> {
  const sandbox = new TemplateSandbox();
  const only = process.argv[2];
  for (const name of readdirSync(HOSTILE_DIR).filter((f) => f.endsWith('.prompt') && (!only || f === only)).sort()) {
    const text = readFileSync(join(HOSTILE_DIR, name), 'utf8');
    const uri = `file:///w/.moecode/prompts/${name}`;
    const t0 = Date.now();
    const parsed = parsePromptFile(text, uri);
    const parseMs = Date.now() - t0;
    const checked = await withLoopWatch(() => checkPromptFile(text, uri, sandbox));
    console.log(
      JSON.stringify({
        name,
        parseMs,
        parsedLoads: !!parsed.prompt,
        checkMs: checked.ms,
        maxGapMs: checked.maxGapMs,
        loads: !!checked.value.prompt,
        diagnostics: checked.value.diagnostics.map((d) => ({ code: d.code, severity: d.severity, line: d.range.start.line, message: d.message })),
      }),
    );
  }
  const benign = parsePromptFile('---\nname: ok\n---\nExplain {{ selection }}\n', 'file:///w/ok.prompt').prompt!;
  console.log(JSON.stringify({ name: 'after', rendered: (await renderPrompt(benign, { selection: 'x' }, sandbox)).user }));
  sandbox.dispose();
}

void main();
