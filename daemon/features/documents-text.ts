/** Reading open documents for prompts: excerpts by range, display paths from URIs. */
import { fileURLToPath } from 'node:url';
import type { Range } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';

/** A path to show the model: the file path for file: URIs, else the URI. */
export function displayPath(uri: string): string {
  if (uri.startsWith('file:')) {
    try {
      return fileURLToPath(uri);
    } catch {
      return uri;
    }
  }
  return uri;
}

/** Text of `range` (clamped to the document) and its 1-based inclusive line numbers. */
export function excerpt(doc: TextDocument, range: Range): { text: string; lines: [number, number] } {
  const start = doc.offsetAt(range.start);
  const end = doc.offsetAt(range.end);
  const s = doc.positionAt(start);
  const e = doc.positionAt(end);
  // a range ending at column 0 of a line does not include that line
  const lastLine = e.character === 0 && e.line > s.line ? e.line - 1 : e.line;
  return { text: doc.getText().slice(start, end), lines: [s.line + 1, lastLine + 1] };
}

/** Whole lines [from, to) of a document (clamped). */
export function linesText(doc: TextDocument, from: number, to: number): string {
  const a = Math.max(0, Math.min(from, doc.lineCount));
  const b = Math.max(a, Math.min(to, doc.lineCount));
  if (a === b) return '';
  return doc.getText({ start: { line: a, character: 0 }, end: { line: b, character: 0 } });
}
