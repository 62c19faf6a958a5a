/**
 * The extension-host test entry (VS Code's `run()` contract). Runs the *.suite.js files next to this
 * bundle with mocha (tdd UI) — or, with MOECODE_EXTHOST_SUITES=untrusted, the *.untrusted-suite.js files,
 * which expect a window in Restricted Mode — and, when MOECODE_EXTHOST_RESULT names a file, writes every
 * test's outcome there as JSON (code-server's runner reads it; @vscode/test-electron just uses the exit code).
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Mocha from 'mocha';

export interface ExthostResult {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
  error?: string;
}

export function run(): Promise<void> {
  const mocha = new Mocha({ ui: 'tdd', color: false, timeout: 120_000, reporter: 'spec' });
  const grep = process.env.MOECODE_EXTHOST_GREP;
  if (grep) mocha.grep(grep);
  const suffix = process.env.MOECODE_EXTHOST_SUITES === 'untrusted' ? '.untrusted-suite.js' : '.suite.js';
  for (const f of readdirSync(__dirname).filter((n) => n.endsWith(suffix)).sort()) mocha.addFile(join(__dirname, f));
  const results: ExthostResult[] = [];
  return new Promise((resolve, reject) => {
    const runner = mocha.run((failures) => {
      const out = process.env.MOECODE_EXTHOST_RESULT;
      if (out) writeFileSync(out, JSON.stringify(results, null, 2));
      if (failures > 0) reject(new Error(`${failures} extension-host tests failed`));
      else resolve();
    });
    runner.on('pass', (t) => results.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }));
    runner.on('fail', (t, err: Error) => results.push({ title: t.fullTitle(), state: 'failed', durationMs: t.duration, error: `${err?.message}\n${err?.stack ?? ''}` }));
    runner.on('pending', (t) => results.push({ title: t.fullTitle(), state: 'pending', error: (t as unknown as { skipReason?: string }).skipReason }));
  });
}
