/**
 * "MoeCode: Select Model" in a real VS Code (code-server + chromium through playwright-core), with
 * llama.cpp's download cache (LLAMA_CACHE) holding a model MoeCode can run and one it cannot (an unknown
 * architecture and a tokenizer it cannot build):
 *  - the model it cannot run is marked in the list with its problems;
 *  - choosing it asks first, in a modal dialog listing every reason; Cancel leaves moecode.model.path as it was;
 *  - choosing the model it can run switches at once, without asking;
 *  - "Use It Anyway" switches to the refused model.
 * Screenshots go to test-results/editor/.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { meta } from '../../daemon/gguf/gguf-writer';
import { ensureModel } from '../../tools/modelgen/model-cache';
import { setMeta, writeVariant } from '../helpers/gguf-variants';
import { CHROMIUM, CHROMIUM_ARGS, RESULTS_DIR, missingDaemon, missingPrerequisite, startCodeServer, type CodeServer } from './harness/code-server';
import { prepareWorkspace, TINY_MODEL } from './harness/workspace';

const skip = missingPrerequisite() ?? missingDaemon();
if (skip) console.log(`# model-picker-confirm skipped: ${skip}`);

let server: CodeServer | undefined;
let browser: Browser | undefined;
let page: Page;
let ws: { dir: string; modelPath: string };
let cache = '';
let refusedModel = '';
let goodModel = '';

const shot = (name: string) => page.screenshot({ path: join(RESULTS_DIR, `${name}.png`) });

function modelPathSetting(): string {
  return (JSON.parse(readFileSync(join(ws.dir, '.vscode', 'settings.json'), 'utf8')) as Record<string, string>)['moecode.model.path'] ?? '';
}

async function settingBecomes(path: string): Promise<void> {
  for (let i = 0; i < 80 && modelPathSetting() !== path; i++) await page.waitForTimeout(250);
  assert.equal(modelPathSetting(), path);
}

/** Runs Select Model, filters its list down to `name` once the models are listed, and accepts that row. */
async function pick(name: string): Promise<void> {
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>MoeCode: Select Model');
  await page.locator('.quick-input-list .monaco-list-row[aria-label*="Select Model"]').first().waitFor({ timeout: 30_000 });
  await page.keyboard.press('Enter');
  await page.locator('.quick-input-widget .quick-input-title', { hasText: 'MoeCode: Select Model' }).waitFor({ timeout: 30_000 });
  // the discovered models replace the first items when their headers are read
  await page.locator('.quick-input-widget .quick-input-list .monaco-list-row', { hasText: 'good-tiny.gguf' }).first().waitFor({ timeout: 60_000 });
  await page.locator('.quick-input-widget input').fill(name);
  const row = page.locator(`.quick-input-widget .quick-input-list .monaco-list-row[aria-label*="${name}"]`).first();
  await row.waitFor({ timeout: 30_000 });
  await page.waitForTimeout(300);
  await row.click();
}

before(async () => {
  if (skip) return;
  mkdirSync(RESULTS_DIR, { recursive: true });
  ws = await prepareWorkspace({}, { 'sample.ts': '// picker\n' });
  cache = mkdtempSync(join(tmpdir(), 'moecode-llama-cache-'));
  refusedModel = join(cache, 'mamba-refused.gguf');
  await writeVariant(refusedModel, { arch: 'qwen3moe', weightType: 'Q8_0' }, { meta: (e) => setMeta(setMeta(e, meta.str('general.architecture', 'mamba9')), meta.str('tokenizer.ggml.model', 'nope')) });
  goodModel = join(cache, 'good-tiny.gguf');
  symlinkSync(await ensureModel(TINY_MODEL), goodModel);
  server = await startCodeServer({ workspace: ws.dir, installExtension: true, env: { LLAMA_CACHE: cache } });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${server.url}?folder=${encodeURIComponent(ws.dir)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  // the extension is active once its status bar item shows the model
  await page.locator('.statusbar-item', { hasText: /: (ready|loading|error)/ }).first().waitFor({ timeout: 180_000 });
});

after(async () => {
  await browser?.close().catch(() => undefined);
  await server?.stop();
  if (cache) rmSync(cache, { recursive: true, force: true });
});

test('a model the check refuses is marked in the list, and choosing it asks first with every reason; Cancel changes nothing', { skip }, async () => {
  const before = modelPathSetting();
  assert.equal(before, ws.modelPath);
  await pick('mamba-refused.gguf');
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: 30_000 });
  await shot('picker-01-confirm');
  const text = await dialog.innerText();
  assert.match(text, /MoeCode cannot run mamba-refused\.gguf as it is/);
  assert.match(text, /architecture 'mamba9' is not supported/);
  assert.match(text, /the tokenizer cannot be built/);
  await dialog.locator('.dialog-buttons-row .monaco-button', { hasText: 'Cancel' }).click();
  await dialog.waitFor({ state: 'detached', timeout: 10_000 });
  await page.waitForTimeout(1500);
  assert.equal(modelPathSetting(), before, 'Cancel must not change moecode.model.path');
});

test('a model the check accepts is chosen without asking', { skip }, async () => {
  await pick('good-tiny.gguf');
  await settingBecomes(goodModel);
  assert.equal(await page.locator('.monaco-dialog-box').count(), 0, 'no confirmation for a model that runs');
});

test('"Use It Anyway" switches to the refused model', { skip }, async () => {
  await pick('mamba-refused.gguf');
  const dialog = page.locator('.monaco-dialog-box');
  await dialog.waitFor({ timeout: 30_000 });
  await dialog.locator('.dialog-buttons-row .monaco-button', { hasText: 'Use It Anyway' }).click();
  await settingBecomes(refusedModel);
  await shot('picker-02-used-anyway');
});
