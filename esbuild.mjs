// Bundles the extension, the LSP daemon and the CLI (CommonJS, Node), and the chat webview's script (browser). Type-checking is separate: `npm run typecheck`.
import * as esbuild from 'esbuild';
import { buildKernels, KernelToolchainError } from './daemon/cpu/kernels/build-wasm.mjs';

const watch = process.argv.includes('--watch');
const production = process.argv.includes('--production');

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: !production,
  minify: production,
  logLevel: 'info',
  // Dawn's addon is loaded from node_modules/webgpu at run time; vscode is provided by the host.
  external: ['vscode', 'webgpu'],
};

const entries = [
  { entryPoints: ['daemon/cli/main.ts'], outfile: 'dist/cli.js' },
  // Jinja templates (a GGUF's chat template, a prompt file's) render in this child process of the daemon, the CLI
  // and the extension host, with time, memory and output limits (daemon/template/template-sandbox.ts)
  { entryPoints: ['daemon/template/template-renderer.ts'], outfile: 'dist/template-renderer.js' },
];
for (const [entry, out] of [
  ['daemon/main.ts', 'dist/daemon.js'],
  // the CPU backend's rank worker, started by daemon/cpu/cpu-backend.ts from the bundle's folder
  ['daemon/cpu/rank-worker.ts', 'dist/cpu-worker.js'],
  ['extension/main.ts', 'dist/extension.js'],
]) {
  const { existsSync } = await import('node:fs');
  if (existsSync(entry)) entries.push({ entryPoints: [entry], outfile: out });
}

// The chat panel's page script runs in the webview (a browser), not in Node.
const browserEntries = [];
{
  const { existsSync } = await import('node:fs');
  if (existsSync('extension/chat/webview/main.ts')) {
    browserEntries.push({ entryPoints: ['extension/chat/webview/main.ts'], outfile: 'dist/webview/chat.js' });
  }
}
const browser = { bundle: true, platform: 'browser', format: 'iife', target: 'es2022', sourcemap: !production, minify: production, logLevel: 'info' };

// The CPU backend's WebAssembly kernels (C, clang + wasm-ld): dist/moecode-cpu.wasm.
try {
  buildKernels({ force: production });
} catch (e) {
  if (!(e instanceof KernelToolchainError)) throw e;
  console.error(`error: ${e.message}`);
  process.exit(1);
}

const contexts = await Promise.all([
  ...entries.map((e) => esbuild.context({ ...common, ...e })),
  ...browserEntries.map((e) => esbuild.context({ ...browser, ...e })),
]);
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}
