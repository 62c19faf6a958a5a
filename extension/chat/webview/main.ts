/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The chat panel's page script (bundled for the browser by esbuild.mjs → dist/webview/chat.js).
 * Renders turns as sanitised Markdown, streams deltas into the last answer, and sends the user's
 * actions to the extension host. Keyboard: Enter sends, Shift+Enter adds a line, Escape stops,
 * Ctrl/Cmd+L starts a new chat, Alt+A toggles attaching the selection; Tab reaches every button.
 */
import DOMPurify from 'dompurify';
import type { ChatTurn, FromWebview, SelectionInfo, SlashCommand, ToWebview } from '../messages';
import { renderMarkdown, type CodeBlock } from './render';

declare function acquireVsCodeApi(): { postMessage(msg: FromWebview): void; getState(): unknown; setState(s: unknown): void };
const vscode = acquireVsCodeApi();

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} missing`);
  return el as T;
};
const log = $<HTMLDivElement>('messages');
const empty = $<HTMLDivElement>('empty');
const input = $<HTMLTextAreaElement>('input');
const sendButton = $<HTMLButtonElement>('send');
const stopButton = $<HTMLButtonElement>('stop');
const attach = $<HTMLInputElement>('attach');
const attachLabel = $<HTMLLabelElement>('attach-label');
const notice = $<HTMLDivElement>('notice');
const suggestions = $<HTMLUListElement>('slash-suggestions');

const turns = new Map<string, { turn: ChatTurn; el: HTMLElement; body: HTMLElement; codeBlocks: CodeBlock[]; scheduled: boolean }>();
let busy = false;
let commands: SlashCommand[] = [];
let selection: SelectionInfo | undefined;

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  // links are opened by VS Code (see the click handler); never navigate the webview
  if (node.tagName === 'A') node.removeAttribute('target');
});

function sanitize(html: string): string {
  return DOMPurify.sanitize(html, {
    ALLOWED_ATTR: ['class', 'href', 'title', 'type', 'data-action', 'data-code-index', 'start', 'align'],
    FORBID_TAGS: ['style', 'form', 'input', 'img', 'svg', 'math', 'iframe'],
  });
}

function nearBottom(): boolean {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 40;
}

function renderBody(entry: { turn: ChatTurn; body: HTMLElement; codeBlocks: CodeBlock[] }): void {
  const { turn, body } = entry;
  if (turn.role === 'user') {
    const r = renderMarkdown(turn.content);
    body.innerHTML = sanitize(r.html);
    entry.codeBlocks = r.codeBlocks;
    return;
  }
  const r = renderMarkdown(turn.content || (turn.status === 'streaming' ? '' : '_(no answer)_'));
  body.innerHTML = sanitize(r.html);
  entry.codeBlocks = r.codeBlocks;
}

function renderMeta(entry: { turn: ChatTurn; el: HTMLElement }): void {
  const { turn, el } = entry;
  el.className = `turn ${turn.role} ${turn.status}`;
  el.setAttribute('aria-busy', String(turn.status === 'streaming'));
  const footer = el.querySelector<HTMLElement>('.turn-footer')!;
  const parts: string[] = [];
  if (turn.status === 'stopped') parts.push('Stopped');
  if (turn.status === 'error') parts.push(`Error: ${turn.error ?? 'unknown'}`);
  if (turn.footer) parts.push(turn.footer);
  footer.textContent = parts.join(' · ');
  footer.hidden = parts.length === 0;
}

function upsert(turn: ChatTurn): void {
  const stick = nearBottom();
  let entry = turns.get(turn.id);
  if (!entry) {
    const el = document.createElement('article');
    el.dataset.turnId = turn.id;
    el.tabIndex = -1;
    const head = document.createElement('div');
    head.className = 'turn-head';
    const who = document.createElement('span');
    who.className = 'turn-role';
    who.textContent = turn.role === 'user' ? 'You' : 'MoeCode';
    head.append(who);
    if (turn.contextLabel) {
      const ctx = document.createElement('span');
      ctx.className = 'turn-context';
      ctx.textContent = turn.contextLabel;
      head.append(ctx);
    }
    const body = document.createElement('div');
    body.className = 'turn-body markdown';
    const footer = document.createElement('div');
    footer.className = 'turn-footer';
    el.append(head, body, footer);
    log.append(el);
    entry = { turn, el, body, codeBlocks: [], scheduled: false };
    turns.set(turn.id, entry);
  }
  entry.turn = turn;
  renderBody(entry);
  renderMeta(entry);
  empty.hidden = turns.size > 0;
  if (stick) log.scrollTop = log.scrollHeight;
}

function appendDelta(id: string, delta: string): void {
  const entry = turns.get(id);
  if (!entry) return;
  entry.turn.content += delta;
  // how many pieces streamed in (tests and screen readers' aria-busy rely on the stream, not the final text)
  entry.el.dataset.deltas = String(Number(entry.el.dataset.deltas ?? 0) + 1);
  if (entry.scheduled) return;
  entry.scheduled = true;
  // re-render at most once per frame however fast tokens arrive
  requestAnimationFrame(() => {
    entry.scheduled = false;
    const stick = nearBottom();
    renderBody(entry);
    if (stick) log.scrollTop = log.scrollHeight;
  });
}

function setBusy(b: boolean): void {
  busy = b;
  stopButton.hidden = !b;
  sendButton.hidden = b;
  document.body.classList.toggle('busy', b);
  if (!b && document.activeElement === stopButton) input.focus();
}

function setSelection(s: SelectionInfo | undefined): void {
  selection = s;
  attachLabel.textContent = s ? `Attach selection (${s.label})` : 'Attach selection (nothing selected)';
  attach.disabled = !s;
}

function send(): void {
  const text = input.value.trim();
  if (!text || busy) return;
  vscode.postMessage({ type: 'send', text, attach: attach.checked && !!selection });
  input.value = '';
  hideSuggestions();
  autoGrow();
}

function autoGrow(): void {
  input.style.height = 'auto';
  input.style.height = `${Math.min(input.scrollHeight, 200)}px`;
}

// ---- slash commands

function showSuggestions(): void {
  const m = /^\/(\S*)$/.exec(input.value);
  const matches = m ? commands.filter((c) => c.name.startsWith(m[1]!)) : [];
  suggestions.replaceChildren(
    ...matches.map((c, i) => {
      const li = document.createElement('li');
      li.id = `slash-${c.name}`;
      li.setAttribute('role', 'option');
      li.setAttribute('aria-selected', String(i === 0));
      li.textContent = `/${c.name} — ${c.description}`;
      li.addEventListener('mousedown', (e) => {
        e.preventDefault();
        input.value = `/${c.name} `;
        hideSuggestions();
        input.focus();
      });
      return li;
    }),
  );
  suggestions.hidden = matches.length === 0;
  input.setAttribute('aria-expanded', String(!suggestions.hidden));
}

function hideSuggestions(): void {
  suggestions.hidden = true;
  input.setAttribute('aria-expanded', 'false');
}

function moveSuggestion(step: number): boolean {
  const items = [...suggestions.querySelectorAll('li')];
  if (suggestions.hidden || items.length === 0) return false;
  const at = items.findIndex((li) => li.getAttribute('aria-selected') === 'true');
  const next = (at + step + items.length) % items.length;
  items.forEach((li, i) => li.setAttribute('aria-selected', String(i === next)));
  input.setAttribute('aria-activedescendant', items[next]!.id);
  return true;
}

function acceptSuggestion(): boolean {
  const li = suggestions.hidden ? undefined : suggestions.querySelector<HTMLLIElement>('li[aria-selected="true"]');
  if (!li) return false;
  input.value = `${li.textContent!.split(' — ')[0]} `;
  hideSuggestions();
  return true;
}

// ---- events

input.addEventListener('keydown', (e) => {
  if ((e.key === 'ArrowDown' || e.key === 'ArrowUp') && moveSuggestion(e.key === 'ArrowDown' ? 1 : -1)) {
    e.preventDefault();
  } else if ((e.key === 'Tab' || e.key === 'Enter') && !e.shiftKey && acceptSuggestion()) {
    e.preventDefault();
  } else if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  } else if (e.key === 'Escape') {
    if (!suggestions.hidden) hideSuggestions();
    else if (busy) vscode.postMessage({ type: 'stop' });
  }
});
input.addEventListener('input', () => {
  autoGrow();
  showSuggestions();
});
sendButton.addEventListener('click', send);
stopButton.addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
$<HTMLButtonElement>('new-chat').addEventListener('click', () => vscode.postMessage({ type: 'newChat' }));
attach.addEventListener('change', () => vscode.postMessage({ type: 'setAttach', attach: attach.checked }));

document.addEventListener('keydown', (e) => {
  const mod = e.ctrlKey || e.metaKey;
  if (mod && e.key.toLowerCase() === 'l') {
    e.preventDefault();
    vscode.postMessage({ type: 'newChat' });
  } else if (e.altKey && e.key.toLowerCase() === 'a' && !attach.disabled) {
    e.preventDefault();
    attach.checked = !attach.checked;
    vscode.postMessage({ type: 'setAttach', attach: attach.checked });
  } else if (e.key === 'Escape' && busy && document.activeElement !== input) {
    vscode.postMessage({ type: 'stop' });
  }
});

log.addEventListener('click', (e) => {
  const target = e.target as HTMLElement;
  const button = target.closest<HTMLButtonElement>('button.code-action');
  if (button) {
    const entry = turns.get(button.closest<HTMLElement>('article')?.dataset.turnId ?? '');
    const block = entry?.codeBlocks[Number(button.dataset.codeIndex)];
    if (!block) return;
    const action = button.dataset.action;
    if (action === 'copy') {
      vscode.postMessage({ type: 'copy', code: block.code });
      button.textContent = 'Copied';
      setTimeout(() => (button.textContent = 'Copy'), 1500);
    } else if (action === 'insert') vscode.postMessage({ type: 'insert', code: block.code });
    else if (action === 'open') vscode.postMessage({ type: 'open', code: block.code, language: block.language || undefined });
    return;
  }
  const link = target.closest<HTMLAnchorElement>('a[href]');
  if (link) {
    // VS Code opens links clicked in webviews through its opener service; just never navigate here
    if (!/^(https?|mailto):/i.test(link.getAttribute('href') ?? '')) e.preventDefault();
  }
});

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const msg = event.data;
  switch (msg.type) {
    case 'init':
      turns.clear();
      log.replaceChildren();
      for (const t of msg.turns) upsert(t);
      empty.hidden = msg.turns.length > 0;
      commands = msg.commands;
      attach.checked = msg.attach;
      setSelection(msg.selection);
      setBusy(msg.busy);
      notice.textContent = msg.notice ?? '';
      notice.hidden = !msg.notice;
      document.body.dataset.ready = 'true';
      break;
    case 'turn':
      upsert(msg.turn);
      break;
    case 'delta':
      appendDelta(msg.id, msg.delta);
      break;
    case 'busy':
      setBusy(msg.busy);
      break;
    case 'selection':
      setSelection(msg.selection);
      break;
    case 'commands':
      commands = msg.commands;
      break;
    case 'notice':
      notice.textContent = msg.notice ?? '';
      notice.hidden = !msg.notice;
      break;
    case 'focusInput':
      input.focus();
      break;
  }
});

vscode.postMessage({ type: 'ready' });
input.focus();
