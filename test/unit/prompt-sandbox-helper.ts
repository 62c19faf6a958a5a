/**
 * The template worker for unit tests: extension/prompts/template-worker.ts bundled with esbuild the way
 * esbuild.mjs bundles it for the extension (Node's worker threads do not load .ts files through tsx).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildSync } from 'esbuild';
import { TemplateSandbox } from '../../extension/prompts/template-sandbox';

let built: string | undefined;

export function templateWorkerScript(): string {
  if (built) return built;
  const out = join(mkdtempSync(join(tmpdir(), 'moecode-template-worker-')), 'prompt-template-worker.js');
  buildSync({
    entryPoints: [join(__dirname, '..', '..', 'extension', 'prompts', 'template-worker.ts')],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    logLevel: 'warning',
  });
  built = out;
  return out;
}

export function testSandbox(): TemplateSandbox {
  return new TemplateSandbox(templateWorkerScript());
}
