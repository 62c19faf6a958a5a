/**
 * `npm run package` builds a .vsix holding only what runs, and that package works once VS Code has
 * installed it: code-server's `--install-extension` unpacks it, and the daemon inside (with the webgpu
 * addon staged in it, not the repository's node_modules) loads a generated model and completes code.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createProtocolConnection, StreamMessageReader, StreamMessageWriter } from 'vscode-languageserver-protocol/node';
import { StatusDidChangeNotification, StatusRequest, type StatusParams } from '../../daemon/protocol';
import { CODE_SERVER_ENTRY, REPO_ROOT } from './harness/code-server';
import { prepareWorkspace } from './harness/workspace';

const work = mkdtempSync(join(tmpdir(), 'moecode-vsix-'));
after(() => rmSync(work, { recursive: true, force: true }));
let vsix = '';

test('npm run package builds a .vsix of only what runs', { timeout: 10 * 60_000 }, () => {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'extension', 'build', 'package-vsix.mjs')], { cwd: REPO_ROOT, env: { ...process.env, MOECODE_VSIX_OUT: work }, encoding: 'utf8' });
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  vsix = join(work, readdirSync(work).find((f) => f.endsWith('.vsix'))!);
  const size = statSync(vsix).size;
  console.log(`# ${vsix}: ${(size / 2 ** 20).toFixed(2)} MiB`);
  const list = spawnSync('unzip', ['-Z1', vsix], { encoding: 'utf8' });
  assert.equal(list.status, 0, list.stderr);
  const files = list.stdout.trim().split('\n').filter((f) => f.startsWith('extension/')).map((f) => f.slice('extension/'.length));
  for (const must of ['package.json', 'dist/extension.js', 'dist/daemon.js', 'dist/template-renderer.js', 'dist/cpu-worker.js', 'dist/moecode-cpu.wasm', 'dist/webview/chat.js', 'media/chat.css', 'shaders/matmul.wgsl', 'shaders/formats/q4_k.wgsl', 'dist/node_modules/webgpu/package.json', `dist/node_modules/webgpu/dist/${process.platform}-${process.arch}/dawn.node`]) {
    assert.ok(files.includes(must), `${must} missing from the .vsix`);
  }
  const stray = files.filter((f) => /(^|\/)(node_modules\/(?!webgpu\/)|test\/|tools\/|daemon\/|\.cache\/|scratch\/)|\.ts$|\.map$/.test(f) && !f.startsWith('dist/node_modules/webgpu/'));
  assert.deepEqual(stray, [], 'sources, tests, maps and dev dependencies stay out');
  assert.ok(size < 40 * 2 ** 20, `the .vsix is ${size} bytes`);
});

test('the installed .vsix runs its daemon: the staged WebGPU addon loads a model and serves', { timeout: 5 * 60_000 }, async (t) => {
  if (!vsix) return t.skip('no .vsix was built');
  if (!existsSync(CODE_SERVER_ENTRY)) return t.skip('code-server is not installed (node test/editor/harness/install-code-server.mjs)');
  const extensions = join(work, 'extensions');
  const home = join(work, 'home');
  const inst = spawnSync(process.execPath, [CODE_SERVER_ENTRY, '--extensions-dir', extensions, '--user-data-dir', join(work, 'user'), '--install-extension', vsix], { encoding: 'utf8', env: { ...process.env, HOME: home } });
  assert.equal(inst.status, 0, `${inst.stdout}\n${inst.stderr}`);
  const dir = readdirSync(extensions).find((d) => d.startsWith('moecode.moecode-'));
  assert.ok(dir, `installed: ${readdirSync(extensions).join(', ')}`);
  const { modelPath } = await prepareWorkspace();
  // run from a folder outside the repository so nothing resolves from the repository's node_modules
  const child = spawn(process.execPath, [join(extensions, dir, 'dist', 'daemon.js'), '--stdio'], { cwd: work, env: { ...process.env, NODE_PATH: '', MOECODE_MODEL: modelPath }, stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const statuses: StatusParams[] = [];
  conn.onNotification(StatusDidChangeNotification.method, (s: StatusParams) => {
    statuses.push(s);
  });
  conn.onRequest('workspace/configuration', () => [null]);
  conn.listen();
  try {
    await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: {} });
    await conn.sendNotification('initialized', {});
    const deadline = Date.now() + 180_000;
    let status = await conn.sendRequest(StatusRequest.type);
    while (status.state !== 'ready' && status.state !== 'error' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      status = await conn.sendRequest(StatusRequest.type);
    }
    assert.equal(status.state, 'ready', `${JSON.stringify(status)}\n${stderr}`);
    assert.ok(status.adapter, 'a WebGPU adapter was found through the staged addon');
  } finally {
    await conn.sendRequest('shutdown').catch(() => undefined);
    await conn.sendNotification('exit').catch(() => undefined);
    conn.dispose();
    setTimeout(() => child.kill('SIGKILL'), 3000).unref();
  }
});
