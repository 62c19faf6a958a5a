// Hostile prompt files (test/fixtures/prompts/hostile): a loop of a billion turns, `range(1000000000) | length`,
// nested loops that never allocate, a string and a list doubled past any sane size, a billion-character join.
// Each must be rejected within a few seconds with a `template-limit` error, and the checking process must stay
// responsive and alive. The checks run in a child process (prompt-hostile-probe.ts): before the fix, the trial
// render ran on the caller's thread, which hung for minutes or aborted V8 (heap out of memory), and a regression
// must fail this test rather than hang the test runner.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

const HOSTILE = join(__dirname, '..', 'fixtures', 'prompts', 'hostile');
const PROBE = join(__dirname, 'prompt-hostile-probe.ts');

interface ProbeLine {
  name: string;
  parseMs: number;
  parsedLoads: boolean;
  checkMs: number;
  maxGapMs: number;
  loads: boolean;
  diagnostics: { code: string; severity: string; line: number; message: string }[];
  rendered?: string;
}

const files = readdirSync(HOSTILE).filter((f) => f.endsWith('.prompt')).sort();
const child = spawnSync(process.execPath, ['--import', 'tsx', PROBE], { timeout: 120_000, encoding: 'utf8' });
const lines: ProbeLine[] = child.stdout
  .split('\n')
  .filter((l) => l.startsWith('{'))
  .map((l) => JSON.parse(l) as ProbeLine);
const byName = new Map(lines.map((l) => [l.name, l]));

test('the checking process finished on its own and survived every hostile file', () => {
  assert.equal(child.signal, null, `killed by ${child.signal}: ${child.stderr.slice(-2000)}`);
  assert.equal(child.status, 0, child.stderr.slice(-2000));
  assert.deepEqual(lines.map((l) => l.name), [...files, 'after']);
  assert.equal(byName.get('after')!.rendered, 'Explain x', 'the sandbox renders again after the workers it stopped');
});

for (const name of files) {
  test(`${name} is rejected within a few seconds, off the event loop`, () => {
    const r = byName.get(name);
    assert.ok(r, `no result for ${name}; stderr:\n${child.stderr.slice(-2000)}`);
    console.log(`# ${name}: static parse ${r.parseMs} ms, check ${r.checkMs} ms, longest event-loop gap ${r.maxGapMs} ms: ${r.diagnostics.map((d) => d.message).join(' | ')}`);
    assert.ok(r.parseMs < 1_000, `the static checks took ${r.parseMs} ms (they must not run the template)`);
    assert.equal(r.parsedLoads, true, 'statically the file is a valid prompt: only running it shows the problem');
    assert.equal(r.loads, false, 'the prompt is not loaded');
    const limit = r.diagnostics.find((d) => d.code === 'template-limit');
    assert.ok(limit, JSON.stringify(r.diagnostics));
    assert.equal(limit.severity, 'error');
    assert.equal(limit.line, 4, 'reported on the first line of the body');
    assert.match(limit.message, /cannot be used: with sample values, (rendering took longer than 2 s|rendering needed more than 64 MB|rendering went past a size limit|the rendered text is longer than)/);
    assert.ok(r.checkMs < 6_000, `the check took ${r.checkMs} ms`);
    assert.ok(r.maxGapMs < 1_000, `the event loop stalled for ${r.maxGapMs} ms`);
  });
}

test('the worker keeps its own heap limit when the host runs with a large --max-old-space-size', () => {
  // a worker thread would inherit the host's V8 flag and grow far past its limit (nodejs/node#43991)
  const big = spawnSync(process.execPath, ['--import', 'tsx', PROBE, 'list.prompt'], {
    timeout: 60_000,
    encoding: 'utf8',
    env: { ...process.env, NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --max-old-space-size=4096`.trim() },
  });
  assert.equal(big.status, 0, big.stderr.slice(-2000));
  const r = JSON.parse(big.stdout.split('\n').find((l) => l.includes('"list.prompt"'))!) as ProbeLine;
  assert.equal(r.loads, false);
  assert.match(r.diagnostics.find((d) => d.code === 'template-limit')?.message ?? '', /needed more than 64 MB/);
  assert.ok(r.checkMs < 6_000, `the check took ${r.checkMs} ms`);
});
