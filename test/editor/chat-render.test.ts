import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderMarkdown } from '../../extension/chat/webview/render';

test('fenced code is highlighted, keeps its raw text, and gets Copy / Insert / Open buttons', () => {
  const src = 'Here:\n\n```ts\nconst x: number = 1 < 2 ? 3 : 4;\n```\n\nand\n\n```\nplain <b>\n```\n';
  const r = renderMarkdown(src);
  assert.deepEqual(r.codeBlocks, [
    { code: 'const x: number = 1 < 2 ? 3 : 4;\n', language: 'ts' },
    { code: 'plain <b>\n', language: '' },
  ]);
  assert.match(r.html, /<span class="hljs-keyword">const<\/span>/);
  for (const action of ['copy', 'insert', 'open']) assert.equal(r.html.split(`data-action="${action}"`).length - 1, 2, action);
  assert.match(r.html, /plain &lt;b&gt;/);
});

test('raw HTML from the model is escaped, never rendered', () => {
  const r = renderMarkdown('<img src=x onerror=alert(1)> <script>alert(1)</script>');
  assert.doesNotMatch(r.html, /<img|<script/);
  assert.match(r.html, /&lt;script&gt;/);
});

test('a fence still being streamed renders as code', () => {
  const r = renderMarkdown('```python\ndef f(x):\n    return');
  assert.equal(r.codeBlocks.length, 1);
  assert.match(r.html, /hljs-keyword">def</);
});

test('javascript: links are not made clickable', () => {
  const r = renderMarkdown('[x](javascript:alert(1)) https://example.com');
  assert.doesNotMatch(r.html, /href="javascript:/);
  assert.match(r.html, /href="https:\/\/example.com"/);
});
