/**
 * Runs the extension-host suites (test/editor/exthost/*.suite.ts, VS Code's `run()` contract) inside
 * code-server: the workbench URL's `payload` names the extension under development and the tests; the
 * page's `codeAutomationExit` gives the exit code. Also usable directly: `npm run test:exthost`.
 * With MOECODE_EXTHOST_RUNNER=electron the same bundle runs under @vscode/test-electron instead (for
 * machines that can download VS Code).
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { chromium } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, RESULTS_DIR, startCodeServer } from './code-server';
import { prepareWorkspace } from './workspace';

export interface ExthostResult {
  title: string;
  state: 'passed' | 'failed' | 'pending';
  durationMs?: number;
  error?: string;
}

export const EXTHOST_OUT = join(REPO_ROOT, '.cache', 'exthost-tests');

/** Bundles index.ts and each suite into .cache/exthost-tests (vscode and mocha stay external). */
export async function buildExthostBundle(): Promise<string> {
  rmSync(EXTHOST_OUT, { recursive: true, force: true });
  const dir = join(REPO_ROOT, 'test', 'editor', 'exthost');
  const { readdirSync } = await import('node:fs');
  const entries = readdirSync(dir).filter((f) => f === 'index.ts' || f.endsWith('.suite.ts')).map((f) => join(dir, f));
  await esbuild.build({ entryPoints: entries, outdir: EXTHOST_OUT, bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: 'inline', external: ['vscode', 'mocha'], logLevel: 'warning' });
  return join(EXTHOST_OUT, 'index.js');
}

export async function runExthostInCodeServer(opts: { timeoutMs?: number; grep?: string } = {}): Promise<{ exitCode: number; results: ExthostResult[]; log: string }> {
  const index = await buildExthostBundle();
  const { dir } = await prepareWorkspace();
  mkdirSync(RESULTS_DIR, { recursive: true });
  const resultFile = join(EXTHOST_OUT, 'results.json');
  const server = await startCodeServer({ workspace: dir, env: { MOECODE_EXTHOST_RESULT: resultFile, ...(opts.grep ? { MOECODE_EXTHOST_GREP: opts.grep } : {}) } });
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  const logLines: string[] = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let exit!: (code: number) => void;
    const exited = new Promise<number>((r) => (exit = r));
    await page.exposeFunction('codeAutomationExit', (code: number) => exit(code));
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      logLines.push(`[${type}] ${args.map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ')}`);
    });
    const remote = (p: string) => `vscode-remote://127.0.0.1:${server.port}${p}`;
    const payload = JSON.stringify([
      ['extensionDevelopmentPath', remote(REPO_ROOT)],
      ['extensionTestsPath', remote(index)],
    ]);
    await page.goto(`${server.url}?folder=${encodeURIComponent(dir)}&payload=${encodeURIComponent(payload)}`);
    const timeout = opts.timeoutMs ?? 12 * 60_000;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const exitCode = await Promise.race([exited, new Promise<number>((r) => (timer = setTimeout(() => r(-1), timeout)))]);
    clearTimeout(timer);
    await page.screenshot({ path: join(RESULTS_DIR, 'exthost-final.png') }).catch(() => undefined);
    const results: ExthostResult[] = existsSync(resultFile) ? JSON.parse(readFileSync(resultFile, 'utf8')) : [];
    return { exitCode, results, log: `${logLines.join('\n')}\n--- code-server ---\n${server.log()}` };
  } finally {
    await browser.close().catch(() => undefined);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runExthostInElectron(): Promise<number> {
  const index = await buildExthostBundle();
  const { dir } = await prepareWorkspace();
  const { runTests } = await import('@vscode/test-electron');
  return runTests({ extensionDevelopmentPath: REPO_ROOT, extensionTestsPath: index, launchArgs: [dir, '--disable-extensions', '--disable-workspace-trust'] });
}

async function main(): Promise<void> {
  if (process.env.MOECODE_EXTHOST_RUNNER === 'electron') {
    process.exitCode = await runExthostInElectron();
    return;
  }
  const { exitCode, results, log } = await runExthostInCodeServer({ grep: process.argv[2] });
  for (const r of results) console.log(`${r.state === 'passed' ? 'ok  ' : r.state === 'pending' ? 'skip' : 'FAIL'} ${r.title}${r.durationMs ? ` (${r.durationMs} ms)` : ''}${r.error ? `\n     ${r.error.split('\n').slice(0, 6).join('\n     ')}` : ''}`);
  if (exitCode !== 0) console.log(log.slice(-8000));
  console.log(`exit code ${exitCode}`);
  process.exitCode = exitCode === 0 ? 0 : 1;
}

if (process.argv[1] && /run-exthost\.ts$/.test(process.argv[1])) void main();
