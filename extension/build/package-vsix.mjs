#!/usr/bin/env node
/**
 * `npm run package`: builds the .vsix for this machine's platform with @vscode/vsce.
 *  1. production bundles (node esbuild.mjs --production): dist/extension.js, dist/daemon.js (and the chat-template
 *     template renderer they start, dist/template-renderer.js), dist/webview/chat.js;
 *  2. Dawn's N-API addon for the platform staged as dist/node_modules/webgpu (package.json + dawn.node),
 *     where the daemon's `require.resolve('webgpu/package.json')` finds it from dist/daemon.js;
 *  3. `vsce package --no-dependencies --target <platform>`; .vscodeignore is an allow-list of what runs
 *     (bundles, shaders, grammars, media, models/moecode-coder.gguf when present).
 * Prints the .vsix path and its size (MOECODE_VSIX_OUT: the folder to write it to; default the repository root).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
process.chdir(root);
const run = (cmd, args) => {
  const r = spawnSync(cmd, args, { stdio: 'inherit', cwd: root });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status})`);
};

const vsceTargets = { 'linux-x64': 'linux-x64', 'linux-arm64': 'linux-arm64', 'darwin-x64': 'darwin-x64', 'darwin-arm64': 'darwin-arm64', 'win32-x64': 'win32-x64', 'win32-arm64': 'win32-arm64' };
const platform = `${process.platform}-${process.arch}`;
const target = process.env.MOECODE_VSIX_TARGET ?? vsceTargets[platform];
if (!target) throw new Error(`no VS Code target for ${platform}`);
const [os, arch] = target.split('-');
const dawnDir = os === 'darwin' ? 'darwin-universal' : `${os}-${arch}`;

// 1. bundles (stale source maps are excluded by .vscodeignore)
rmSync(join(root, 'dist'), { recursive: true, force: true });
run(process.execPath, ['esbuild.mjs', '--production']);
for (const f of ['dist/extension.js', 'dist/daemon.js', 'dist/template-renderer.js', 'dist/cpu-worker.js', 'dist/moecode-cpu.wasm', 'dist/webview/chat.js']) {
  if (!existsSync(join(root, f))) throw new Error(`${f} was not built`);
}

// 2. the WebGPU addon for the target
const webgpu = join(root, 'node_modules', 'webgpu');
const addon = join(webgpu, 'dist', dawnDir);
if (!existsSync(join(addon, 'dawn.node'))) throw new Error(`webgpu has no build for ${dawnDir} (${addon})`);
const staged = join(root, 'dist', 'node_modules', 'webgpu');
mkdirSync(join(staged, 'dist', dawnDir), { recursive: true });
copyFileSync(join(webgpu, 'package.json'), join(staged, 'package.json'));
copyFileSync(join(webgpu, 'LICENSE.md'), join(staged, 'LICENSE.md'));
for (const f of ['dawn.node', 'd3dcompiler_47.dll', 'dxcompiler.dll', 'dxil.dll']) {
  if (existsSync(join(addon, f))) copyFileSync(join(addon, f), join(staged, 'dist', dawnDir, f));
}

// 3. the package
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const outDir = process.env.MOECODE_VSIX_OUT ?? root;
mkdirSync(outDir, { recursive: true });
const out = join(outDir, `${pkg.name}-${pkg.version}-${target}.vsix`);
const vsce = join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
run(process.execPath, [vsce, 'package', '--no-dependencies', '--allow-missing-repository', '--skip-license', '--target', target, '--out', out]);
console.log(`\n${out}: ${(statSync(out).size / 2 ** 20).toFixed(1)} MiB${existsSync(join(root, 'models', 'moecode-coder.gguf')) ? ' (includes models/moecode-coder.gguf)' : ' (no shipped model: models/moecode-coder.gguf is absent)'}`);
