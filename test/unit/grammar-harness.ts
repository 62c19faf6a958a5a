/**
 * Tokenizes text with syntaxes/moecode-prompt.tmLanguage.json the way VS Code does: vscode-textmate on the
 * Oniguruma WebAssembly build. The embedded YAML and Markdown grammars are VS Code's own as packaged by
 * tm-grammars (a dev dependency); a missing one is reported so tests that need it can skip.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as oniguruma from 'vscode-oniguruma';
import * as vsctm from 'vscode-textmate';

export const GRAMMAR_PATH = join(__dirname, '..', '..', 'syntaxes', 'moecode-prompt.tmLanguage.json');
export const LANGUAGE_CONFIGURATION_PATH = join(__dirname, '..', '..', 'syntaxes', 'moecode-prompt.language-configuration.json');

const EMBEDDED: Record<string, string> = {
  'source.yaml': 'tm-grammars/grammars/yaml.json',
  'text.html.markdown': 'tm-grammars/grammars/markdown.json',
};

export interface GrammarToken {
  line: number;
  start: number;
  end: number;
  text: string;
  scopes: string[];
}

export interface PromptGrammar {
  /** Token lines of a whole text, each line tokenized with the previous line's end state. */
  tokenize(text: string): GrammarToken[][];
  /** Which embedded grammars were found. */
  embedded: { yaml: boolean; markdown: boolean };
}

let loaded: Promise<PromptGrammar> | undefined;

export function loadPromptGrammar(): Promise<PromptGrammar> {
  loaded ??= load();
  return loaded;
}

function tryRead(specifier: string): string | undefined {
  try {
    return readFileSync(require.resolve(specifier), 'utf8');
  } catch {
    return undefined;
  }
}

async function load(): Promise<PromptGrammar> {
  const wasm = readFileSync(require.resolve('vscode-oniguruma/release/onig.wasm'));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
  const found = { yaml: false, markdown: false };
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources: string[]) => new oniguruma.OnigScanner(sources),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName: string) => {
      if (scopeName === 'text.moecode-prompt') return vsctm.parseRawGrammar(readFileSync(GRAMMAR_PATH, 'utf8'), GRAMMAR_PATH);
      const specifier = EMBEDDED[scopeName];
      const text = specifier ? tryRead(specifier) : undefined;
      if (!text) return null;
      if (scopeName === 'source.yaml') found.yaml = true;
      if (scopeName === 'text.html.markdown') found.markdown = true;
      return vsctm.parseRawGrammar(text, `${scopeName}.json`);
    },
  });
  const grammar = await registry.loadGrammar('text.moecode-prompt');
  if (!grammar) throw new Error(`could not load ${GRAMMAR_PATH}`);
  return {
    embedded: found,
    tokenize(text: string): GrammarToken[][] {
      let state = vsctm.INITIAL;
      return text.split(/\r?\n/).map((lineText, line) => {
        const r = grammar.tokenizeLine(lineText, state);
        state = r.ruleStack;
        return r.tokens.map((t) => ({ line, start: t.startIndex, end: Math.min(t.endIndex, lineText.length), text: lineText.slice(t.startIndex, t.endIndex), scopes: t.scopes }));
      });
    },
  };
}

/** The scopes of the token covering (line, character). */
export function scopesAt(lines: GrammarToken[][], line: number, character: number): string[] {
  const token = lines[line]?.find((t) => t.start <= character && character < Math.max(t.end, t.start + 1));
  if (!token) throw new Error(`no token at ${line}:${character}`);
  return token.scopes;
}

/** The scopes at the first occurrence of `needle` on `line` (offset `delta` into it). */
export function scopesOf(text: string, lines: GrammarToken[][], line: number, needle: string, delta = 0, occurrence = 0): string[] {
  const lineText = text.split(/\r?\n/)[line];
  let at = -1;
  for (let i = 0; i <= occurrence; i++) {
    at = lineText.indexOf(needle, at + 1);
    if (at < 0) throw new Error(`'${needle}' not on line ${line}: ${lineText}`);
  }
  return scopesAt(lines, line, at + delta);
}

/** A readable dump for failure messages. */
export function dump(lines: GrammarToken[][]): string {
  return lines.map((l) => l.map((t) => `${JSON.stringify(t.text)} ${t.scopes.slice(1).join(' ')}`).join('\n')).join('\n--\n');
}
