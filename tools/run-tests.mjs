#!/usr/bin/env node
// Runs the test suites with node's test runner: `node tools/run-tests.mjs [unit] [kernels] [conformance] [lsp] [editor]`
// (all suites when none is named). Node 20's --test does not expand globs, so the files are collected here.
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
const concurrency = process.env.MOECODE_TEST_CONCURRENCY ?? '1';
const r = spawnSync(process.execPath, ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files], { stdio: 'inherit' });
process.exit(r.status ?? 1);
