// Bundles the extension, the LSP daemon and the CLI (CommonJS, Node). Type-checking is separate: `npm run typecheck`.
import * as esbuild from 'esbuild';

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
];
for (const [entry, out] of [
  ['daemon/main.ts', 'dist/daemon.js'],
  ['extension/main.ts', 'dist/extension.js'],
]) {
  const { existsSync } = await import('node:fs');
  if (existsSync(entry)) entries.push({ entryPoints: [entry], outfile: out });
}

const contexts = await Promise.all(entries.map((e) => esbuild.context({ ...common, ...e })));
if (watch) {
  await Promise.all(contexts.map((c) => c.watch()));
} else {
  await Promise.all(contexts.map((c) => c.rebuild()));
  await Promise.all(contexts.map((c) => c.dispose()));
}
