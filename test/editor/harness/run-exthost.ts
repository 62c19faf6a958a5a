/**
 * Runs the extension-host suites (test/editor/exthost/*.suite.ts, VS Code's `run()` contract) inside
 * code-server: the workbench URL's `payload` names the extension under development and the tests; the
 * page's `codeAutomationExit` gives the exit code. Also usable directly: `npm run test:exthost`.
 * With MOECODE_EXTHOST_RUNNER=electron the same bundle runs under @vscode/test-electron instead (for
 * machines that can download VS Code).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import { chromium, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, REPO_ROOT, RESULTS_DIR, startCodeServer } from './code-server';
import { UNTRUSTED_WORKSPACE_FILES } from '../exthost/untrusted-workspace';
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
  const entries = readdirSync(dir).filter((f) => f === 'index.ts' || f.endsWith('.suite.ts') || f.endsWith('.untrusted-suite.ts')).map((f) => join(dir, f));
  await esbuild.build({ entryPoints: entries, outdir: EXTHOST_OUT, bundle: true, platform: 'node', format: 'cjs', target: 'node20', sourcemap: 'inline', external: ['vscode', 'mocha'], logLevel: 'warning' });
  return join(EXTHOST_OUT, 'index.js');
}

export interface ExthostRunOptions {
  timeoutMs?: number;
  grep?: string;
  /**
   * 'untrusted': run the *.untrusted-suite.ts files in a window in Restricted Mode (workspace trust on, the folder
   * not trusted); those suites may ask the harness to grant trust (requestFromHarness('grant-workspace-trust')).
   */
  suites?: 'default' | 'untrusted';
  /** Files to put in the workspace before it opens (relative path → text). */
  files?: Record<string, string>;
  /** User settings (settings.json), e.g. what Restricted Mode ignores in the workspace's settings. */
  userSettings?: Record<string, unknown>;
}

export async function runExthostInCodeServer(opts: ExthostRunOptions = {}): Promise<{ exitCode: number; results: ExthostResult[]; log: string }> {
  const index = await buildExthostBundle();
  const untrusted = opts.suites === 'untrusted';
  const { dir, modelPath } = await prepareWorkspace({}, opts.files ?? {});
  mkdirSync(RESULTS_DIR, { recursive: true });
  const resultFile = join(EXTHOST_OUT, 'results.json');
  const requests = join(EXTHOST_OUT, 'requests');
  mkdirSync(requests, { recursive: true });
  const server = await startCodeServer({
    workspace: dir,
    workspaceTrust: untrusted ? 'untrusted' : 'disabled',
    // Restricted Mode ignores the workspace's model path: give the user settings the same model
    userSettings: { ...(untrusted ? { 'moecode.model.path': modelPath } : {}), ...opts.userSettings },
    env: {
      MOECODE_EXTHOST_RESULT: resultFile,
      MOECODE_EXTHOST_REQUESTS: requests,
      ...(untrusted ? { MOECODE_EXTHOST_SUITES: 'untrusted' } : {}),
      ...(opts.grep ? { MOECODE_EXTHOST_GREP: opts.grep } : {}),
    },
  });
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
    const serving = serveHarnessRequests(page, requests, logLines);
    const exitCode = await Promise.race([exited, new Promise<number>((r) => (timer = setTimeout(() => r(-1), timeout)))]);
    clearTimeout(timer);
    serving.stop();
    await page.screenshot({ path: join(RESULTS_DIR, 'exthost-final.png') }).catch(() => undefined);
    const results: ExthostResult[] = existsSync(resultFile) ? JSON.parse(readFileSync(resultFile, 'utf8')) : [];
    return { exitCode, results, log: `${logLines.join('\n')}\n--- code-server ---\n${server.log()}` };
  } finally {
    await browser.close().catch(() => undefined);
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What a suite may ask of the harness, because the extension API cannot do it: a suite writes a file named
 * after the request into MOECODE_EXTHOST_REQUESTS (test/editor/exthost/helpers.ts: requestFromHarness), the
 * harness does it in the workbench page and deletes the file.
 *  - grant-workspace-trust: Workspaces: Manage Workspace Trust, then the editor's Trust button.
 */
function serveHarnessRequests(page: Page, dir: string, log: string[]): { stop(): void } {
  const actions: Record<string, () => Promise<void>> = {
    'grant-workspace-trust': async () => {
      await page.keyboard.press('Escape');
      await page.keyboard.press('F1');
      await page.locator('.quick-input-widget input').fill('>Workspaces: Manage Workspace Trust');
      await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Manage Workspace Trust' }).first().click();
      await page.locator('.workspace-trust-editor .monaco-button', { hasText: /^Trust$/ }).click({ timeout: 30_000 });
      await page.screenshot({ path: join(RESULTS_DIR, 'exthost-trust-granted.png') }).catch(() => undefined);
    },
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy) return;
    const [name] = readdirSync(dir);
    if (!name) return;
    busy = true;
    const action = actions[name];
    log.push(`[harness] ${name}`);
    (action ? action() : Promise.reject(new Error(`unknown harness request ${name}`)))
      .catch((e: unknown) => log.push(`[harness] ${name} failed: ${e instanceof Error ? e.message : String(e)}`))
      .finally(() => {
        rmSync(join(dir, name), { force: true });
        busy = false;
      });
  }, 250);
  return { stop: () => clearInterval(timer) };
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
  // node --import tsx test/editor/harness/run-exthost.ts [grep] [--untrusted] [--log]
  const untrusted = process.argv.includes('--untrusted');
  const grep = process.argv.slice(2).find((a) => !a.startsWith('--'));
  const { exitCode, results, log } = await runExthostInCodeServer(untrusted ? { grep, suites: 'untrusted', files: UNTRUSTED_WORKSPACE_FILES } : { grep });
  for (const r of results) console.log(`${r.state === 'passed' ? 'ok  ' : r.state === 'pending' ? 'skip' : 'FAIL'} ${r.title}${r.durationMs ? ` (${r.durationMs} ms)` : ''}${r.error ? `\n     ${r.error.split('\n').slice(0, 6).join('\n     ')}` : ''}`);
  if (process.argv.includes('--log')) console.log(log);
  else if (exitCode !== 0) console.log(log.slice(-8000));
  console.log(`exit code ${exitCode}`);
  process.exitCode = exitCode === 0 ? 0 : 1;
}

if (process.argv[1] && /run-exthost\.ts$/.test(process.argv[1])) void main();
