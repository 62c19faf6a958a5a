/**
 * The fresh-machine path the README promises: its first command is one line that installs the system
 * packages through tools/install-system-packages.sh (no bare `sudo`: root containers have none), then
 * `npm ci`, `npm run build`, `npm run demo`; CI runs the same script; the script names every package the
 * build and the tests need, works as root, and says what to do without root or sudo.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

const ROOT = resolve(__dirname, '..', '..');
const SCRIPT = join(ROOT, 'tools', 'install-system-packages.sh');
const PACKAGES = ['chromium', 'libvulkan1', 'clang', 'lld', 'clang-19', 'lld-19', 'libkrb5-dev', 'ripgrep', 'build-essential', 'python3', 'python3-numpy', 'python3-torch', 'unzip'];

const which = (cmd: string) => {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : undefined;
};

test("the README's first command is one line: the package script, npm ci, build, demo; no sudo", () => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const setup = readme.slice(readme.indexOf('## Set-up'), readme.indexOf('\n## ', readme.indexOf('## Set-up') + 1));
  const first = /```sh\n([^\n]*)\n```/.exec(setup)?.[1];
  assert.equal(first, 'tools/install-system-packages.sh && npm ci && npm run build && npm run demo');
  assert.doesNotMatch(setup, /\bsudo apt/);
  assert.match(readFileSync(join(ROOT, '.ci', 'run'), 'utf8'), /^tools\/install-system-packages\.sh$/m, '.ci/run installs the same packages');
});

test('the script installs every package the build and the tests need', () => {
  const script = readFileSync(SCRIPT, 'utf8');
  const list = /^PACKAGES=\(([^)]*)\)$/m.exec(script)?.[1]?.split(/\s+/).filter(Boolean);
  assert.deepEqual(list?.sort(), [...PACKAGES].sort());
});

test('as root (or with sudo) it runs apt-get for all of them (simulated: apt-get -s)', (t) => {
  if (!which('apt-get')) return t.skip('no apt-get on this machine');
  const isRoot = process.getuid?.() === 0;
  if (!isRoot && !which('sudo')) return t.skip('neither root nor sudo here');
  const r = spawnSync('bash', [SCRIPT], { encoding: 'utf8', env: { ...process.env, MOECODE_APT_DRY_RUN: '1' }, timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  for (const p of PACKAGES) assert.match(r.stdout, new RegExp(`\\b${p.replace(/[-+.]/g, '\\$&')}\\b`), `apt-get was asked for ${p}`);
});

test('without root and without sudo it stops with what to do', (t) => {
  if (process.getuid?.() !== 0 || !which('setpriv') || !which('apt-get')) return t.skip('needs root and setpriv to run the script as an unprivileged user');
  const bin = mkdtempSync(join(tmpdir(), 'moecode-nosudo-'));
  try {
    chmodSync(bin, 0o755); // the unprivileged user must reach the commands
    mkdirSync(join(bin, 'bin'), { mode: 0o755 });
    for (const cmd of ['bash', 'id', 'env', 'apt-get']) symlinkSync(which(cmd)!, join(bin, 'bin', cmd));
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', `PATH=${join(bin, 'bin')}`, 'bash', SCRIPT], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /run as root, or install sudo/);
  } finally {
    rmSync(bin, { recursive: true, force: true });
  }
});

test('the editor suite installs code-server when it is missing (here: the install fails without ripgrep, and the run fails, not skips)', (t) => {
  if (process.platform !== 'linux') return t.skip('the code-server installer is written for Linux');
  const root = mkdtempSync(join(tmpdir(), 'moecode-cs-'));
  try {
    mkdirSync(join(root, 'bin'));
    for (const cmd of ['sh', 'tar']) if (which(cmd)) symlinkSync(which(cmd)!, join(root, 'bin', cmd));
    symlinkSync(process.execPath, join(root, 'bin', 'node'));
    const r = spawnSync(process.execPath, [join(ROOT, 'tools', 'run-tests.mjs'), 'editor'], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PATH: join(root, 'bin'), MOECODE_CODE_SERVER_DIR: join(root, 'code-server') },
    });
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /the editor and grammar tests need code-server, and installing it failed: ripgrep is missing/);
    assert.doesNotMatch(r.stdout, /# (pass|skip)/, 'no test ran');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
