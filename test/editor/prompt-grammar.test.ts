/**
 * The .prompt grammar in a real VS Code (code-server 4.100.3 = VS Code 1.100.3, the extension installed in the
 * extensions folder): a prompt file opened in the workbench has its front matter tokenized as YAML in the yaml
 * language and its body as Markdown in the moecode-prompt language, as "Developer: Inspect Editor Tokens and
 * Scopes" reports; and the colours the editor actually paints agree (a YAML key in the theme's entity.name.tag
 * colour, the delimiters in the default foreground). test/unit/grammar.test.ts checks the same with VS Code's
 * engine and grammars outside the workbench.
 */
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM, CHROMIUM_ARGS, RESULTS_DIR, missingPrerequisite, startCodeServer, type CodeServer } from './harness/code-server';
import { prepareWorkspace } from './harness/workspace';

const skip = missingPrerequisite();
if (skip) console.log(`# prompt-grammar skipped: ${skip}`);

const FIXTURE = join(__dirname, '..', 'fixtures', 'prompts', 'full.prompt');
let server: CodeServer | undefined;
let browser: Browser | undefined;
let page: Page;

before(async () => {
  if (skip) return;
  mkdirSync(RESULTS_DIR, { recursive: true });
  const ws = await prepareWorkspace({}, { 'full.prompt': readFileSync(FIXTURE, 'utf8') });
  server = await startCodeServer({ workspace: ws.dir, installExtension: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
  page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  await page.goto(`${server.url}?folder=${encodeURIComponent(ws.dir)}`);
  await page.locator('.monaco-workbench').waitFor({ timeout: 90_000 });
  // the extension is up once its status bar item shows
  await page.locator('.statusbar-item', { hasText: /moecode|MoeCode/i }).first().waitFor({ timeout: 120_000 });
  await page.keyboard.press('Control+P');
  await page.locator('.quick-input-widget input').fill('full.prompt');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'full.prompt' }).first().click();
  await page.locator('.editor-instance .view-lines .view-line').first().waitFor({ timeout: 30_000 });
  await page.locator('.statusbar-item', { hasText: 'MoeCode Prompt' }).waitFor({ timeout: 30_000 });
});

after(async () => {
  await page?.screenshot({ path: join(RESULTS_DIR, 'prompt-grammar.png') }).catch(() => undefined);
  await browser?.close().catch(() => undefined);
  await server?.stop();
});

/** Puts the cursor at line:column (1-based) and returns what the token inspector shows there. */
async function inspect(line: number, column: number): Promise<{ text: string; language: string; scopes: string[]; foreground?: string }> {
  await page.keyboard.press('Escape');
  await page.keyboard.press('Control+G');
  await page.keyboard.type(`${line}:${column}`);
  await page.keyboard.press('Enter');
  await page.keyboard.press('F1');
  await page.locator('.quick-input-widget input').fill('>Developer: Inspect Editor Tokens and Scopes');
  await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Inspect Editor Tokens and Scopes' }).first().click();
  const widget = page.locator('.token-inspect-widget');
  await widget.waitFor({ timeout: 15_000 });
  // the widget says "Loading..." until the tokens of that position are computed (slower on a loaded machine)
  await page.waitForFunction(() => {
    const t = document.querySelector('.token-inspect-widget')?.textContent ?? '';
    return t.length > 0 && !t.includes('Loading');
  }, undefined, { timeout: 30_000 });
  const text = await widget.innerText();
  await page.keyboard.press('Escape');
  const row = (name: string) => new RegExp(`^${name}\\t(.*)$`, 'm').exec(text)?.[1]?.trim();
  const scopesBlock = /textmate scopes\t([\s\S]*?)\n(?:foreground|$)/.exec(text)?.[1] ?? '';
  return { text, language: row('language') ?? '', scopes: scopesBlock.split('\n').map((s) => s.trim()).filter(Boolean), foreground: row('foreground')?.match(/#[0-9A-Fa-f]{6}/)?.[0] };
}

/** The colour the editor painted the first span of `text` on a visible line. */
async function paintedColour(text: string): Promise<string> {
  return page.evaluate((needle) => {
    for (const span of document.querySelectorAll('.editor-instance .view-lines .view-line span > span')) {
      if (span.textContent === needle) return getComputedStyle(span).color;
    }
    return '';
  }, text);
}

const hexToRgb = (hex: string) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;

test('front matter: YAML scopes in the yaml language; the delimiters are the prompt grammar\'s', { skip, timeout: 5 * 60_000 }, async () => {
  const key = await inspect(3, 2); // "name" on "name: review-changes"
  writeFileSync(join(RESULTS_DIR, 'prompt-grammar-inspect.txt'), key.text);
  assert.equal(key.language, 'yaml', key.text);
  for (const scope of ['entity.name.tag.yaml', 'source.yaml', 'meta.embedded.block.frontmatter.moecode-prompt', 'text.moecode-prompt']) assert.ok(key.scopes.includes(scope), `${scope} in\n${key.text}`);
  assert.ok(!key.scopes.some((s) => s.endsWith('.markdown')), key.text);

  const open = await inspect(1, 1);
  assert.ok(open.scopes.includes('punctuation.definition.frontmatter.begin.moecode-prompt'), open.text);
  assert.ok(!open.scopes.includes('meta.separator.markdown'), open.text);
  const close = await inspect(10, 1);
  assert.ok(close.scopes.includes('punctuation.definition.frontmatter.end.moecode-prompt'), close.text);

  // what the editor paints agrees: the key in the colour the theme gives entity.name.tag, not the plain text colour
  assert.ok(key.foreground, key.text);
  assert.equal(await paintedColour('name'), hexToRgb(key.foreground!));
  assert.notEqual(await paintedColour('name'), await paintedColour('---'));
});

test('body: Markdown in the moecode-prompt language, template expressions inside', { skip, timeout: 5 * 60_000 }, async () => {
  const heading = await inspect(15, 4); // "Review" in "# Review of {{ path }}"
  assert.equal(heading.language, 'moecode-prompt', heading.text);
  assert.ok(heading.scopes.includes('markup.heading.markdown'), heading.text);
  assert.ok(!heading.scopes.includes('source.yaml'), heading.text);
  const variable = await inspect(15, 16); // "path"
  assert.ok(variable.scopes.includes('variable.language.prompt.moecode-prompt'), variable.text);
  assert.ok(variable.scopes.includes('meta.template.expression.moecode-prompt'), variable.text);
});
