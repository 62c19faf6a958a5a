#!/usr/bin/env node
// Runs the test suites with node's test runner: `node tools/run-tests.mjs [unit] [kernels] [conformance] [lsp] [editor]`
// (all suites when none is named). Node 20's --test does not expand globs, so the files are collected here.
// The editor suite first installs code-server into .cache/code-server when it is missing.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const ALL = ['unit', 'kernels', 'conformance', 'lsp', 'editor'];
const suites = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const chosen = suites.length ? suites : ALL;
for (const s of chosen) if (!ALL.includes(s)) throw new Error(`unknown suite ${s} (${ALL.join(', ')})`);

function collect(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const p = join(dir, name);
      if (statSync(p).isDirectory()) return collect(p);
      return name.endsWith('.test.ts') ? [p] : [];
    });
}

const files = chosen.flatMap((s) => collect(join('test', s)));
if (files.length === 0) {
  console.error(`no test files in ${chosen.join(', ')}`);
  process.exit(1);
}
// The editor tests run in a real VS Code (code-server), and the grammar unit tests on its grammars: install it
// on demand, so that `npm test` on a fresh clone runs them instead of skipping them for lack of a step only CI
// used to perform.
if (chosen.includes('editor') || chosen.includes('unit')) {
  const { installCodeServer } = await import('../test/editor/harness/install-code-server.mjs');
  try {
    installCodeServer({ quiet: true });
  } catch (e) {
    console.error(`run-tests: the editor and grammar tests need code-server, and installing it failed: ${e instanceof Error ? e.message : e}`);
    console.error('run-tests: the system packages it needs are installed by tools/install-system-packages.sh');
    process.exit(1);
  }
}
const concurrency = process.env.MOECODE_TEST_CONCURRENCY ?? '1';
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
