#!/usr/bin/env node
/**
 * Installs code-server (a real VS Code: workbench in the browser, real Node extension host) into
 * .cache/code-server for the editor tests: `node test/editor/harness/install-code-server.mjs`.
 *
 * Why not a devDependency of the root package: its install cannot succeed from a plain `npm ci` here.
 *  - node-pty and kerberos build from source (node-gyp), and kerberos needs libkrb5-dev;
 *  - @vscode/ripgrep's postinstall downloads rg from GitHub, which is unreachable: we pre-seed its
 *    download cache with a tarball of Debian's `rg` (apt-get install ripgrep);
 *  - the machine's ~/.npmrc says `yes=false`, which cancels node-pty's `npx node-gyp`.
 * A failed optional install would still leave `npm ci` red for everyone, so it lives here, pinned by
 * test/editor/code-server/package-lock.json; tools/run-tests.mjs runs it before the editor and unit tests.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, '..', '..', '..');
const specDir = join(repoRoot, 'test', 'editor', 'code-server');
export const codeServerDir = process.env.MOECODE_CODE_SERVER_DIR ?? join(repoRoot, '.cache', 'code-server');
const wanted = JSON.parse(readFileSync(join(specDir, 'package.json'), 'utf8')).dependencies['code-server'];

function installedVersion() {
  const pkg = join(codeServerDir, 'node_modules', 'code-server', 'package.json');
  if (!existsSync(join(codeServerDir, 'node_modules', 'code-server', 'out', 'node', 'entry.js'))) return undefined;
  return JSON.parse(readFileSync(pkg, 'utf8')).version;
}

function which(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** @vscode/ripgrep looks for its download in $TMPDIR/vscode-ripgrep-cache-<its version>/<asset> before fetching it. */
function preseedRipgrep(tmp) {
  const rg = which('rg');
  if (!rg) throw new Error('ripgrep is missing: apt-get install ripgrep (code-server ships it; its installer downloads it from GitHub otherwise).');
  const stage = mkdtempSync(join(tmpdir(), 'moecode-rg-'));
  copyFileSync(rg, join(stage, 'rg'));
  const arch = process.arch === 'arm64' ? 'aarch64-unknown-linux-musl' : 'x86_64-unknown-linux-musl';
  // the versions @vscode/ripgrep 1.15.x asks for (code-server 4.100.x pins 1.15.11 / ripgrep v13.0.0-10)
  for (const [pkgVersion, rgVersion] of [['1.15.11', 'v13.0.0-10'], ['1.15.10', 'v13.0.0-10'], ['1.15.9', 'v13.0.0-10']]) {
    const cache = join(tmp, `vscode-ripgrep-cache-${pkgVersion}`);
    mkdirSync(cache, { recursive: true });
    const tarball = join(cache, `ripgrep-${rgVersion}-${arch}.tar.gz`);
    if (existsSync(tarball)) continue;
    const r = spawnSync('tar', ['-czf', tarball, '-C', stage, 'rg'], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`could not write ${tarball}`);
  }
  rmSync(stage, { recursive: true, force: true });
}

export function installCodeServer({ quiet = false } = {}) {
  const have = installedVersion();
  if (have === wanted) {
    if (!quiet) console.log(`code-server ${have} already in ${codeServerDir}`);
    return codeServerDir;
  }
  if (process.platform !== 'linux') throw new Error('this installer is written for Linux (Debian) machines');
  if (!existsSync('/usr/include/gssapi/gssapi.h') && !existsSync('/usr/include/krb5.h')) {
    throw new Error('libkrb5-dev is missing (code-server builds kerberos from source): apt-get install libkrb5-dev');
  }
  const tmp = process.env.TMPDIR ?? tmpdir();
  preseedRipgrep(tmp);
  mkdirSync(codeServerDir, { recursive: true });
  for (const f of ['package.json', 'package-lock.json']) {
    if (existsSync(join(specDir, f))) copyFileSync(join(specDir, f), join(codeServerDir, f));
  }
  writeFileSync(join(codeServerDir, '.npmrc'), 'yes=true\nunsafe-perm=true\nfund=false\naudit=false\nupdate-notifier=false\n');
  const hasLock = existsSync(join(codeServerDir, 'package-lock.json'));
  const env = { ...process.env, TMPDIR: tmp, npm_config_yes: 'true', npm_config_unsafe_perm: 'true', npm_config_foreground_scripts: 'false' };
  console.log(`installing code-server ${wanted} into ${codeServerDir} (1–3 minutes)…`);
  const started = Date.now();
  const r = spawnSync('npm', [hasLock ? 'ci' : 'install', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: codeServerDir, env, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`npm ${hasLock ? 'ci' : 'install'} of code-server failed (exit ${r.status})`);
  const got = installedVersion();
  if (got !== wanted) throw new Error(`code-server install finished but ${codeServerDir} holds ${got ?? 'nothing usable'}`);
  console.log(`code-server ${got} installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return codeServerDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    installCodeServer();
  } catch (e) {
    console.error(`install-code-server: ${e instanceof Error ? e.message : e}`);
    process.exit(1);
  }
}
