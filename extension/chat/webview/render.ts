/**
 * Markdown → HTML for chat turns: markdown-it (raw HTML off, so the model cannot inject markup) with
 * highlight.js for fenced code, each code block wrapped with its Copy / Insert / Open buttons. The
 * result still goes through DOMPurify in the webview (main.ts) before it touches the DOM.
 * No DOM here: tested in Node (test/editor/chat-render.test.ts).
 */
import hljs from 'highlight.js/lib/common';
import MarkdownIt from 'markdown-it';

export interface CodeBlock {
  code: string;
  language: string;
}

export interface RenderedMarkdown {
  html: string;
  /** The raw code of each fenced block, by `data-code-index`. */
  codeBlocks: CodeBlock[];
}

const md = new MarkdownIt({ html: false, linkify: true, breaks: false, typographer: false });

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** Highlighted HTML for `code`; plain escaped text when the language is unknown. */
export function highlight(code: string, language: string): string {
  const lang = language && hljs.getLanguage(language) ? language : '';
  if (!lang) return escapeHtml(code);
  try {
    return hljs.highlight(code, { language: lang, ignoreIllegals: true }).value;
  } catch {
    return escapeHtml(code);
  }
}

let current: CodeBlock[] = [];

md.renderer.rules.fence = (tokens, idx) => {
  const token = tokens[idx]!;
  const language = token.info.trim().split(/\s+/)[0] ?? '';
  const index = current.length;
  current.push({ code: token.content, language });
  const label = language ? escapeHtml(language) : 'text';
  const langClass = language ? ` language-${escapeHtml(language)}` : '';
  return (
    `<div class="code-block" data-code-index="${index}">` +
    `<div class="code-toolbar"><span class="code-lang">${label}</span>` +
    `<button type="button" class="code-action" data-action="copy" data-code-index="${index}" title="Copy">Copy</button>` +
    `<button type="button" class="code-action" data-action="insert" data-code-index="${index}" title="Insert at Cursor">Insert</button>` +
    `<button type="button" class="code-action" data-action="open" data-code-index="${index}" title="Open in New Editor">Open</button>` +
    `</div><pre><code class="hljs${langClass}">${highlight(token.content, language)}</code></pre></div>\n`
  );
};

// links open through VS Code (the webview forwards clicks); never in the webview itself
const defaultLinkOpen = md.renderer.rules.link_open ?? ((tokens, idx, options, _env, self) => self.renderToken(tokens, idx, options));
md.renderer.rules.link_open = (tokens, idx, options, env, self) => {
  tokens[idx]!.attrSet('title', tokens[idx]!.attrGet('href') ?? '');
  return defaultLinkOpen(tokens, idx, options, env, self);
};

/**
 * Renders a (possibly still streaming) Markdown answer. An unclosed fence is rendered as a code block
 * too, so code appears highlighted while it is being written.
 */
export function renderMarkdown(source: string): RenderedMarkdown {
  current = [];
  try {
    const html = md.render(source);
    return { html, codeBlocks: current };
  } finally {
    current = [];
  }
}
