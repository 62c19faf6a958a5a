/**
 * `npm run bench:lsp`: what a user typing in the editor waits for. The real daemon process is spoken
 * to over stdio like any LSP client; for a source file of about 1,500 tokens it measures the
 * request-to-response time of `textDocument/inlineCompletion` (cursor two thirds in, or --at end):
 *   cold   — the file just opened (nothing of it in the KV cache),
 *   +1 char — the user typed one more character (the KV cache reused by longest common prefix),
 *   cached — the user typed the first character of the suggestion (the recent-results cache),
 * with the daemon's own split into prefill and decode (from `moecode/debug/state`).
 *
 *   node --import tsx tools/bench/bench-lsp.ts [--preset bench|tiny] [--model PATH] [--runs N]
 *        [--file-tokens N] [--max-tokens N] [--at middle|end]
 *        [--dist] [--json FILE]
 *
 * Default: the generated bench model (qwen3moe, ~1.9 B parameters, Q4_0; generated once into
 * .cache/models, ~1 GB). --preset tiny (the tiny F32 model, with a 4096-token context) is a quick run;
 * --model any GGUF.
 * --dist runs the bundled daemon (bin/moecode-daemon.js, after npm run build). Progress on stderr,
 * the table on stdout.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { tokenizerDataFromGguf } from '../../daemon/engine/tokenizer/gguf-adapter.js';
import { Tokenizer } from '../../daemon/engine/tokenizer/tokenizer.js';
import type { DebugStateResult, GenerationStats, MoecodeSettingsInput, StatusParams } from '../../daemon/protocol.js';
import { JsonRpcClient } from '../../test/lsp/json-rpc-client.js';
import { CODE_CORPUS } from '../modelgen/code-corpus.js';
import { ensureModel } from '../modelgen/model-cache.js';

const REPO = resolve(__dirname, '..', '..');
const USAGE = 'usage: npm run bench:lsp -- [--preset bench|tiny] [--model PATH] [--runs N] [--file-tokens N] [--max-tokens N] [--at middle|end] [--dist] [--json FILE]';

interface Options {
  model?: string;
  preset: 'bench' | 'tiny';
  runs: number;
  fileTokens: number;
  maxTokens?: number;
  /** Where the cursor is: on a new line two thirds in (with code after it), or at the end of the file. */
  at: 'middle' | 'end';
  dist: boolean;
  json?: string;
}

interface Measure {
  /** Request sent → response received, as the client sees it. */
  totalMs: number;
  stats: GenerationStats | null;
  fromCache: boolean;
  suggestion: string;
}

interface RunResult {
  cold: Measure;
  typed: Measure;
  cached?: Measure;
}

function parse(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string' },
      preset: { type: 'string', default: 'bench' },
      runs: { type: 'string', default: '3' },
      'file-tokens': { type: 'string', default: '1500' },
      'max-tokens': { type: 'string' },
      at: { type: 'string', default: 'middle' },
      dist: { type: 'boolean', default: false },
      json: { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (v: string | undefined, name: string, min: number) => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer >= ${min}`);
    return n;
  };
  if (values.preset !== 'bench' && values.preset !== 'tiny') throw new Error('--preset is bench or tiny');
  if (values.at !== 'middle' && values.at !== 'end') throw new Error('--at is middle or end');
  return {
    model: values.model,
    preset: values.preset,
    runs: int(values.runs, 'runs', 1)!,
    fileTokens: int(values['file-tokens'], 'file-tokens', 100)!,
    maxTokens: int(values['max-tokens'], 'max-tokens', 1),
    at: values.at,
    dist: values.dist ?? false,
    json: values.json,
  };
}

const log = (msg: string) => process.stderr.write(`bench:lsp ${msg}\n`);

/**
 * A TypeScript file of about `tokens` tokens (the code corpus, repeated as needed), with the cursor on
 * a new line where a statement has been started: two thirds in, or at the end. Returns the text and
 * the cursor.
 */
function makeFile(tok: Tokenizer, tokens: number, run: number, where: 'middle' | 'end'): { text: string; line: number; character: number } {
  const corpusLines = CODE_CORPUS.split('\n');
  const lines: string[] = [`// bench run ${run}: a file of about ${tokens} tokens`];
  let i = 0;
  while (tok.encode(lines.join('\n'), { addBos: false }).length < tokens) lines.push(corpusLines[i++ % corpusLines.length]!);
  while (lines.length > 2 && tok.encode(lines.join('\n'), { addBos: false }).length > tokens) lines.pop();
  const at = where === 'end' ? lines.length : Math.floor((lines.length * 2) / 3);
  const cursorLine = '    const result = ';
  lines.splice(at, 0, cursorLine);
  return { text: lines.join('\n') + '\n', line: at, character: cursorLine.length };
}

async function complete(c: JsonRpcClient, uri: string, line: number, character: number): Promise<Measure> {
  const before = await c.call<DebugStateResult>('moecode/debug/state', { waitForIdle: true });
  const t0 = performance.now();
  const pending = c.request('textDocument/inlineCompletion', { textDocument: { uri }, position: { line, character }, context: { triggerKind: 2 } }).response;
  // on a slow adapter a cold request takes minutes: say where it is twice a minute (a status request costs nothing measurable)
  const ticker = setInterval(() => {
    c.call<DebugStateResult>('moecode/debug/state', {}).then(
      (s) => {
        const cur = s.current;
        if (cur) log(`  … ${((performance.now() - t0) / 1000).toFixed(0)} s: ${cur.phase}, ${cur.evaluated}/${cur.promptTokens} prompt tokens evaluated, ${cur.generated} generated`);
      },
      () => undefined,
    );
  }, 30_000);
  const r = await pending.finally(() => clearInterval(ticker));
  const totalMs = performance.now() - t0;
  if (r.error) throw new Error(`inlineCompletion failed: ${r.error.message}`);
  const after = await c.call<DebugStateResult>('moecode/debug/state', { waitForIdle: true });
  const fromCache = after.counters.cacheHits > before.counters.cacheHits;
  const items = (r.result as { items: { insertText: string }[] }).items;
  return { totalMs, stats: fromCache ? null : after.last, fromCache, suggestion: items[0]?.insertText ?? '' };
}

const ms = (x: number) => `${x.toFixed(0)} ms`;
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

function row(name: string, m: Measure): string {
  const s = m.stats;
  if (!s) return `${name.padEnd(9)} ${ms(m.totalMs).padStart(9)}   (served from the recent-results cache)`;
  const share = (100 * s.prefillMs) / m.totalMs;
  return [
    name.padEnd(9),
    ms(m.totalMs).padStart(9),
    `${s.prefillTokens}/${s.promptTokens}`.padStart(11),
    String(s.reusedTokens).padStart(7),
    ms(s.prefillMs).padStart(9),
    `${share.toFixed(0)}%`.padStart(8),
    `${s.generatedTokens}`.padStart(7),
    ms(s.decodeMs).padStart(9),
    s.stopReason.padStart(7),
  ].join(' ');
}

async function main(): Promise<void> {
  const opts = parse(process.argv.slice(2));
  const model =
    opts.model ??
    // the tiny preset with a 4096-token context, so the whole file fits the prompt as with the bench model
    (await ensureModel(opts.preset === 'tiny' ? { arch: 'qwen3moe', preset: 'tiny', weightType: 'F32', n_ctx: 4096 } : { arch: 'qwen3moe', preset: 'bench', weightType: 'Q4_0' }));
  const file = await openGguf(model);
  const tok = Tokenizer.fromData(tokenizerDataFromGguf(file.metadata), { warn: () => undefined });
  await file.close();

  const settings: MoecodeSettingsInput = { model: { path: model }, completion: { temperature: 0, ...(opts.maxTokens ? { maxTokens: opts.maxTokens } : {}) } };
  const args = opts.dist ? [join(REPO, 'bin', 'moecode-daemon.js'), '--stdio'] : ['--import', 'tsx', join(REPO, 'daemon', 'main.ts'), '--stdio'];
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] });
  const c = new JsonRpcClient(child);
  try {
    log(`model ${model}`);
    const t0 = performance.now();
    await c.call('initialize', { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { moecode: settings } });
    c.notify('initialized', {});
    const ready = (await c.waitForNotification('moecode/status/didChange', (p: StatusParams) => p.state === 'ready' || p.state === 'error', 3_600_000)).params as StatusParams;
    if (ready.state !== 'ready') throw new Error(`the model did not load: ${ready.message}`);
    const loadMs = performance.now() - t0;
    log(`loaded in ${(loadMs / 1000).toFixed(1)} s on ${ready.adapter}; ${ready.memory?.kvSlots} KV slots × ${ready.memory?.contextLength} tokens`);

    const runs: RunResult[] = [];
    for (let r = 0; r < opts.runs; r++) {
      const f = makeFile(tok, opts.fileTokens, r, opts.at);
      const uri = `file:///bench/run-${r}.ts`;
      c.notify('textDocument/didOpen', { textDocument: { uri, languageId: 'typescript', version: 1, text: f.text } });
      const cold = await complete(c, uri, f.line, f.character);
      // one more character that is not how the suggestion starts (else the cache would answer)
      const ch = cold.suggestion.startsWith('x') ? 'y' : 'x';
      c.notify('textDocument/didChange', {
        textDocument: { uri, version: 2 },
        contentChanges: [{ range: { start: { line: f.line, character: f.character }, end: { line: f.line, character: f.character } }, text: ch }],
      });
      const typed = await complete(c, uri, f.line, f.character + 1);
      let cached: Measure | undefined;
      if (typed.suggestion.length > 1 && !typed.fromCache) {
        c.notify('textDocument/didChange', {
          textDocument: { uri, version: 3 },
          contentChanges: [{ range: { start: { line: f.line, character: f.character + 1 }, end: { line: f.line, character: f.character + 1 } }, text: typed.suggestion[0] }],
        });
        cached = await complete(c, uri, f.line, f.character + 2);
      }
      runs.push({ cold, typed, cached });
      c.notify('textDocument/didClose', { textDocument: { uri } });
      log(`run ${r + 1}/${opts.runs}: cold ${ms(cold.totalMs)}, +1 char ${ms(typed.totalMs)}${cached ? `, typed-ahead ${ms(cached.totalMs)}` : ''}`);
    }

    const header = ['request'.padEnd(9), 'total'.padStart(9), 'eval/prompt'.padStart(11), 'reused'.padStart(7), 'prefill'.padStart(9), 'prefill%'.padStart(8), 'decoded'.padStart(7), 'decode'.padStart(9), 'stop'.padStart(7)].join(' ');
    const lines = [
      `inline completion in a ${opts.fileTokens}-token TypeScript file, cursor ${opts.at === 'end' ? 'at the end' : 'two thirds in'}; ${ready.modelName} on ${ready.adapter}`,
      `model load ${(loadMs / 1000).toFixed(1)} s; completion.maxTokens ${opts.maxTokens ?? 'default'}; eval = prompt tokens evaluated, reused = taken from the KV cache`,
      header,
    ];
    runs.forEach((r, i) => {
      lines.push(`-- run ${i + 1}`);
      lines.push(row('cold', r.cold), row('+1 char', r.typed));
      if (r.cached) lines.push(row('typed', r.cached));
    });
    const coldMs = median(runs.map((r) => r.cold.totalMs));
    const typedMs = median(runs.map((r) => r.typed.totalMs));
    const share = (m: Measure) => (m.stats ? m.stats.prefillMs / m.totalMs : 0);
    lines.push(
      `median: cold ${ms(coldMs)} (prefill ${(100 * median(runs.map((r) => share(r.cold)))).toFixed(0)}%), ` +
        `+1 char ${ms(typedMs)} (prefill ${(100 * median(runs.map((r) => share(r.typed)))).toFixed(0)}%), ` +
        `typed-ahead from cache ${runs.some((r) => r.cached) ? ms(median(runs.filter((r) => r.cached).map((r) => r.cached!.totalMs))) : '-'}`,
    );
    console.log(lines.join('\n'));
    if (opts.json) writeFileSync(opts.json, JSON.stringify({ model, adapter: ready.adapter, loadMs, fileTokens: opts.fileTokens, runs }, null, 2));
    await c.call('shutdown');
    c.notify('exit');
    await c.exited;
  } finally {
    c.kill();
  }
}

main().catch((e) => {
  console.error(`bench:lsp: ${e instanceof Error ? e.message : String(e)}\n${USAGE}`);
  process.exit(1);
});
