/**
 * The main job, as an editor gets it: starts the real daemon (`moecode-daemon --stdio`), speaks LSP to
 * it as an editor would, opens a small source file, asks `textDocument/inlineCompletion` at a few
 * cursors (the daemon builds the fill-in-the-middle prompt, heals the token under the cursor and cuts
 * the suggestion with its stop rules) and prints the file with each suggestion marked; then asks
 * `moecode/code/explain` about a function, streamed. Uses the shipped model (or MOECODE_MODEL); runs
 * without a GPU (the CPU backend; `auto` picks it when there is only a software WebGPU adapter).
 *   npm run demo                 # the built daemon (dist/), else the sources through tsx
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createProtocolConnection, StreamMessageReader, StreamMessageWriter, type ProtocolConnection } from 'vscode-languageserver-protocol/node';
import { defaultModelPath } from '../daemon/cli/default-model.js';
import { exitAfterFlush } from '../daemon/cli/exit-after-flush.js';
import { escapeControlCharacters } from '../daemon/gguf/untrusted-text.js';
import { ExplainRequest, StatusDidChangeNotification, StatusRequest, StreamAppendNotification, type MoecodeSettingsInput, type StatusParams } from '../daemon/protocol.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tty = process.stdout.isTTY;
const mark = (s: string) => (tty ? `\u001b[32;4m${s}\u001b[0m` : `⟦${s}⟧`);
const dim = (s: string) => (tty ? `\u001b[2m${s}\u001b[0m` : s);
const heading = (s: string) => console.log(`\n${tty ? `\u001b[1m${s}\u001b[0m` : `── ${s} ──`}`);

/**
 * What the demo opens: a file being written, "|" where the cursor is. The first cursor is inside a word
 * (the daemon takes the partial token back and makes the suggestion start with it); the second is at the
 * end of a line whose closing brace follows (the stop rules end the suggestion at the line's end instead
 * of repeating the code after the cursor).
 */
const DOCUMENTS = [
  { name: 'stats.py', languageId: 'python', text: 'def mean(values):\n    return sum(values) / le|\n', note: 'the cursor is inside a word: the suggestion continues it' },
  {
    name: 'read-json.ts',
    languageId: 'typescript',
    text: "import * as fs from 'node:fs';\n\nexport function readJson(path: string): unknown {\n  return JSON.parse(fs.readFileSync(path, '|\n}\n",
    note: 'the suggestion ends with the line: the closing brace below is not repeated',
  },
];
/** Explained afterwards: the function of the second document, completed. */
const EXPLAIN = {
  name: 'read-json.ts',
  languageId: 'typescript',
  text: "export function readJson(path: string): unknown {\n  return JSON.parse(fs.readFileSync(path, 'utf8'));\n}\n",
};

const SETTINGS: MoecodeSettingsInput = {
  completion: { maxTokens: 32, temperature: 0 },
  chat: { maxTokens: 48, temperature: 0 },
};

function daemonCommand(): string[] {
  const bin = join(REPO, 'bin', 'moecode-daemon.js');
  if (existsSync(join(REPO, 'dist', 'daemon.js'))) return [bin, '--stdio'];
  return ['--import', 'tsx', join(REPO, 'daemon', 'main.ts'), '--stdio'];
}

interface InlineItem {
  insertText: string;
  range?: { start: { line: number; character: number }; end: { line: number; character: number } };
}

/** The document with `insertText` replacing `range` (or inserted at the cursor), marked. */
function showSuggestion(text: string, cursor: [number, number], item: InlineItem | undefined): string {
  const lines = text.split('\n');
  const offset = (l: number, c: number) => lines.slice(0, l).reduce((n, s) => n + s.length + 1, 0) + c;
  const start = item?.range ? offset(item.range.start.line, item.range.start.character) : offset(...cursor);
  const end = item?.range ? offset(item.range.end.line, item.range.end.character) : start;
  const shown = item ? mark(escapeControlCharacters(item.insertText, true)) : dim('(no suggestion)');
  return (text.slice(0, start) + shown + text.slice(end)).replace(/\n+$/, '');
}

async function waitForModel(conn: ProtocolConnection): Promise<StatusParams> {
  const settled = (s: StatusParams) => s.state === 'ready' || s.state === 'busy' || s.state === 'error';
  return new Promise((resolveStatus) => {
    conn.onNotification(StatusDidChangeNotification.type, (s) => {
      if (settled(s)) resolveStatus(s);
    });
    conn.sendRequest(StatusRequest.type).then((s) => settled(s) && resolveStatus(s), () => undefined);
  });
}

async function demo(): Promise<number> {
  const model = process.env.MOECODE_MODEL || defaultModelPath();
  if (!model) {
    console.error('demo: no model: the shipped models/moecode-coder.gguf is missing and MOECODE_MODEL is not set');
    return 1;
  }
  const child = spawn(process.execPath, daemonCommand(), { cwd: REPO, stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, MOECODE_MODEL: model } });
  const conn = createProtocolConnection(new StreamMessageReader(child.stdout), new StreamMessageWriter(child.stdin));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  conn.onNotification('window/logMessage', () => undefined);
  conn.listen();
  try {
    console.log(`MoeCode demo: the daemon over LSP, as an editor drives it (${basename(model)})`);
    await conn.sendRequest('initialize', { processId: process.pid, rootUri: null, capabilities: {}, initializationOptions: { moecode: SETTINGS } });
    const ready = waitForModel(conn);
    await conn.sendNotification('initialized', {});
    const t0 = performance.now();
    const status = await Promise.race([ready, exited.then((code): never => { throw new Error(`the daemon exited (code ${code}) before the model was loaded`); })]);
    if (status.state === 'error') {
      console.error(`demo: the model did not load: ${status.message}`);
      return 1;
    }
    console.log(dim(`${status.modelName} on ${status.adapter}, ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`));

    for (const doc of DOCUMENTS) {
      const at = doc.text.indexOf('|');
      const text = doc.text.slice(0, at) + doc.text.slice(at + 1);
      const before = text.slice(0, at);
      const cursor: [number, number] = [before.split('\n').length - 1, at - before.lastIndexOf('\n') - 1];
      const uri = `file:///demo/${doc.name}`;
      await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: doc.languageId, version: 1, text } });
      heading(`inline suggestion in ${doc.name} at line ${cursor[0] + 1}, column ${cursor[1] + 1} (textDocument/inlineCompletion)`);
      const started = performance.now();
      const result = (await conn.sendRequest('textDocument/inlineCompletion', {
        textDocument: { uri },
        position: { line: cursor[0], character: cursor[1] },
        context: { triggerKind: 2 },
      })) as { items: InlineItem[] };
      console.log(showSuggestion(text, cursor, result.items[0]));
      console.log(dim(`(${((performance.now() - started) / 1000).toFixed(1)} s; suggested ${result.items[0] ? JSON.stringify(result.items[0].insertText) : 'nothing'}; ${doc.note})`));
    }

    const uri = `file:///demo/explain/${EXPLAIN.name}`;
    await conn.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: EXPLAIN.languageId, version: 1, text: EXPLAIN.text } });
    const lines = EXPLAIN.text.split('\n').length - 1;
    heading(`explain (moecode/code/explain, streamed)`);
    console.log(dim(EXPLAIN.text.trimEnd()));
    const streamId = 'demo-explain';
    conn.onNotification(StreamAppendNotification.type, (p) => {
      if (p.streamId === streamId) process.stdout.write(escapeControlCharacters(p.delta, true));
    });
    process.stdout.write('→ ');
    await conn.sendRequest(ExplainRequest.type, { textDocument: { uri }, range: { start: { line: 0, character: 0 }, end: { line: lines, character: 0 } }, streamId });
    process.stdout.write('\n');
    console.log(dim('\nThe shipped model is small (3.9 M parameters, trained on one CPU core): point moecode.model.path at a larger GGUF for real work.'));
    await conn.sendRequest('shutdown');
    await conn.sendNotification('exit');
    return (await exited) === 0 ? 0 : 1;
  } finally {
    conn.dispose();
    if (child.exitCode === null) child.kill();
  }
}

demo().then(
  (code) => exitAfterFlush(code),
  (e) => {
    console.error(`demo: ${e instanceof Error ? e.message : String(e)}`);
    exitAfterFlush(1);
  },
);
