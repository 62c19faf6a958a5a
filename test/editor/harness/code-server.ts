/**
 * Runs code-server (a real VS Code: workbench in the browser, real Node extension host) for the editor
 * tests, with its own HOME, user data and extensions folders under a temp dir, and drives it with
 * playwright-core + Debian's chromium. See /work/shared/notes/editor-testing.md for the facts behind it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
export const CODE_SERVER_DIR = process.env.MOECODE_CODE_SERVER_DIR ?? join(REPO_ROOT, '.cache', 'code-server');
export const CODE_SERVER_ENTRY = join(CODE_SERVER_DIR, 'node_modules', 'code-server', 'out', 'node', 'entry.js');
export const CHROMIUM = process.env.MOECODE_CHROMIUM ?? ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
export const RESULTS_DIR = join(REPO_ROOT, 'test-results', 'editor');

/** Why the editor tests cannot run here, or undefined when they can. */
export function missingPrerequisite(): string | undefined {
  if (!existsSync(CODE_SERVER_ENTRY)) return `code-server is not installed in ${CODE_SERVER_DIR} (run: node test/editor/harness/install-code-server.mjs)`;
  if (!CHROMIUM) return 'chromium is not installed (apt-get install chromium)';
  if (!existsSync(join(REPO_ROOT, 'dist', 'extension.js'))) return 'dist/extension.js is missing (npm run build)';
  return undefined;
}

export function missingDaemon(): string | undefined {
  return existsSync(join(REPO_ROOT, 'dist', 'daemon.js')) ? undefined : 'dist/daemon.js is missing (the daemon is not built: npm run build)';
}

async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => res(port));
    });
    srv.on('error', rej);
  });
}

export interface CodeServerOptions {
  /** Folder to open. */
  workspace: string;
  /** User settings (settings.json). */
  userSettings?: Record<string, unknown>;
  /** Install the extension as a folder in the extensions dir (as a user would have it); off for extension-development mode. */
  installExtension?: boolean;
  /**
   * 'disabled' (default): started with --disable-workspace-trust, so every folder is trusted. 'untrusted': workspace
   * trust on and the folder not trusted — VS Code 1.100 (code-server) trusts a folder only when trust is disabled
   * (that flag, or security.workspace.trust.enabled false) or the folder is in its trusted-folders storage, which a
   * fresh user-data dir does not have; the startup dialog is turned off, so the window opens in Restricted Mode.
   */
  workspaceTrust?: 'disabled' | 'untrusted';
  env?: Record<string, string>;
}

export interface CodeServer {
  url: string;
  port: number;
  root: string;
  log(): string;
  stop(): Promise<void>;
}

export async function startCodeServer(opts: CodeServerOptions): Promise<CodeServer> {
  const root = mkdtempSync(join(tmpdir(), 'moecode-cs-'));
  const home = join(root, 'home');
  const userData = join(root, 'user-data');
  const extensions = join(root, 'extensions');
  for (const d of [home, join(userData, 'User'), extensions, join(home, '.config'), join(home, '.cache'), join(home, '.local', 'share')]) mkdirSync(d, { recursive: true });
  writeFileSync(
    join(userData, 'User', 'settings.json'),
    JSON.stringify(
      {
        'workbench.startupEditor': 'none',
        'workbench.tips.enabled': false,
        'workbench.enableExperiments': false,
        'telemetry.telemetryLevel': 'off',
        'extensions.autoUpdate': false,
        'extensions.autoCheckUpdates': false,
        'update.mode': 'none',
        ...(opts.workspaceTrust === 'untrusted'
          ? { 'security.workspace.trust.enabled': true, 'security.workspace.trust.startupPrompt': 'never', 'security.workspace.trust.banner': 'always', 'security.workspace.trust.untrustedFiles': 'open' }
          : { 'security.workspace.trust.enabled': false }),
        'editor.inlineSuggest.enabled': true,
        'editor.quickSuggestions': { other: false, comments: false, strings: false },
        'editor.suggestOnTriggerCharacters': false,
        'editor.acceptSuggestionOnEnter': 'off',
        'editor.wordBasedSuggestions': 'off',
        'editor.parameterHints.enabled': false,
        'editor.hover.enabled': false,
        'typescript.suggest.enabled': false,
        'typescript.validate.enable': false,
        'git.enabled': false,
        'workbench.colorTheme': 'Default Dark Modern',
        ...opts.userSettings,
      },
      null,
      2,
    ),
  );
  if (opts.installExtension) {
    const pkg = JSON.parse((await import('node:fs')).readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
    symlinkSync(REPO_ROOT, join(extensions, `${pkg.publisher}.${pkg.name}-${pkg.version}`), 'dir');
  }
  const config = join(root, 'config.yaml');
  writeFileSync(config, 'auth: none\ncert: false\n');
  const port = await freePort();
  const args = [
    CODE_SERVER_ENTRY,
    '--config', config,
    '--auth', 'none',
    '--disable-telemetry',
    '--disable-update-check',
    ...(opts.workspaceTrust === 'untrusted' ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    '--user-data-dir', userData,
    '--extensions-dir', extensions,
    '--bind-addr', `127.0.0.1:${port}`,
    opts.workspace,
  ];
  let out = '';
  const child: ChildProcess = spawn(process.execPath, args, {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_CACHE_HOME: join(home, '.cache'),
      XDG_DATA_HOME: join(home, '.local', 'share'),
      ...opts.env,
    },
  });
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const url = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`code-server exited (${child.exitCode}):\n${out}`);
    try {
      const r = await fetch(`${url}healthz`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`code-server did not listen within 60 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  let stopped = false;
  return {
    url,
    port,
    root,
    log: () => out,
    async stop() {
      if (stopped) return;
      stopped = true;
      // the extension host outlives SIGTERM for ~30 s: end the whole process group
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        /* gone */
      }
      const exited = new Promise<void>((r) => (child.exitCode !== null ? r() : child.once('exit', () => r())));
      await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        /* gone */
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
}

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-dev-shm-usage',
];
