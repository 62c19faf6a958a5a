/**
 * Tokenizes text with syntaxes/moecode-prompt.tmLanguage.json the way VS Code 1.100 does, with what VS Code
 * itself ships, taken from the installed code-server (test/editor/harness/install-code-server.mjs; `npm test`'s
 * CI installs it first): its vscode-textmate and vscode-oniguruma, and the grammars of its built-in extensions
 * (markdown-basics' text.html.markdown, yaml's source.yaml and its versions, every language a fenced block may
 * embed), registered as VS Code registers them — scope name → file from each package.json's
 * contributes.grammars, injections from `injectTo`. Without code-server, `loadPromptGrammar` rejects with
 * GrammarsMissing and the tests skip with its reason.
 *
 * One engine instance for everything: INITIAL must be the same module's, or vscode-textmate does not see the
 * first line as the first line, `\A` never matches, and a front matter tokenizes as a Markdown separator and
 * paragraph.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type * as OnigurumaModule from 'vscode-oniguruma';
import type * as TextmateModule from 'vscode-textmate';
import { CODE_SERVER_DIR } from '../editor/harness/code-server';

export const GRAMMAR_PATH = join(__dirname, '..', '..', 'syntaxes', 'moecode-prompt.tmLanguage.json');
export const LANGUAGE_CONFIGURATION_PATH = join(__dirname, '..', '..', 'syntaxes', 'moecode-prompt.language-configuration.json');
export const PACKAGE_JSON_PATH = join(__dirname, '..', '..', 'package.json');

/** VS Code as code-server installs it. */
export const VSCODE_DIR = join(CODE_SERVER_DIR, 'node_modules', 'code-server', 'lib', 'vscode');

export class GrammarsMissing extends Error {
  override readonly name = 'GrammarsMissing';
}

export interface GrammarToken {
  line: number;
  start: number;
  end: number;
  text: string;
  scopes: string[];
  /** The language VS Code gives the token (package.json's embeddedLanguages for the grammar), e.g. 'yaml'. */
  language: string;
}

export interface PromptGrammar {
  /** Token lines of a whole text, each line tokenized with the previous line's end state, the first with INITIAL. */
  tokenize(text: string): GrammarToken[][];
  /** VS Code's version, from its product.json. */
  vscodeVersion: string;
  /** The grammar files VS Code loaded for each embedded scope, e.g. text.html.markdown → …/markdown-basics/…. */
  loaded: Map<string, string>;
}

interface GrammarContribution {
  scopeName: string;
  path: string;
  injectTo?: string[];
}

let loaded: Promise<PromptGrammar> | undefined;

export function loadPromptGrammar(): Promise<PromptGrammar> {
  loaded ??= load();
  return loaded;
}

/** Scope name → grammar file, and scope → the scopes injected into it, from every built-in extension of VS Code. */
function builtinGrammars(): { files: Map<string, string>; injections: Map<string, string[]> } {
  const files = new Map<string, string>();
  const injections = new Map<string, string[]>();
  const extensions = join(VSCODE_DIR, 'extensions');
  for (const name of readdirSync(extensions)) {
    const manifest = join(extensions, name, 'package.json');
    if (!existsSync(manifest)) continue;
    const grammars = (JSON.parse(readFileSync(manifest, 'utf8')) as { contributes?: { grammars?: GrammarContribution[] } }).contributes?.grammars ?? [];
    for (const g of grammars) {
      if (!files.has(g.scopeName)) files.set(g.scopeName, join(extensions, name, g.path));
      for (const target of g.injectTo ?? []) injections.set(target, [...(injections.get(target) ?? []), g.scopeName]);
    }
  }
  return { files, injections };
}

async function load(): Promise<PromptGrammar> {
  const modules = join(VSCODE_DIR, 'node_modules');
  const wasmPath = join(modules, 'vscode-oniguruma', 'release', 'onig.wasm');
  if (!existsSync(wasmPath)) {
    throw new GrammarsMissing(`VS Code's grammars are not here: code-server is not installed in ${CODE_SERVER_DIR} (node test/editor/harness/install-code-server.mjs)`);
  }
  // VS Code's own copies of the engine, not the repository's
  const oniguruma = require(join(modules, 'vscode-oniguruma')) as typeof OnigurumaModule;
  const vsctm = require(join(modules, 'vscode-textmate')) as typeof TextmateModule;
  const wasm = readFileSync(wasmPath);
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer);
  const { files, injections } = builtinGrammars();
  const used = new Map<string, string>();
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({
      createOnigScanner: (sources: string[]) => new oniguruma.OnigScanner(sources),
      createOnigString: (s: string) => new oniguruma.OnigString(s),
    }),
    loadGrammar: async (scopeName: string) => {
      const path = scopeName === 'text.moecode-prompt' ? GRAMMAR_PATH : files.get(scopeName);
      if (!path) return null;
      used.set(scopeName, path);
      return vsctm.parseRawGrammar(readFileSync(path, 'utf8'), path);
    },
    getInjections: (scopeName: string) => injections.get(scopeName),
  });
  // as VS Code loads a language's grammar: with the contribution's embeddedLanguages, languages as numbers
  const contribution = (JSON.parse(readFileSync(PACKAGE_JSON_PATH, 'utf8')) as { contributes: { grammars: { scopeName: string; language: string; embeddedLanguages?: Record<string, string> }[] } }).contributes.grammars.find(
    (g) => g.scopeName === 'text.moecode-prompt',
  );
  if (!contribution) throw new Error('package.json contributes no grammar for text.moecode-prompt');
  const languages = [contribution.language, ...new Set(Object.values(contribution.embeddedLanguages ?? {}))];
  const languageIds = new Map(languages.map((l, i) => [l, i + 1]));
  const embeddedLanguages = Object.fromEntries(Object.entries(contribution.embeddedLanguages ?? {}).map(([scope, l]) => [scope, languageIds.get(l)!]));
  const grammar = await registry.loadGrammarWithConfiguration('text.moecode-prompt', languageIds.get(contribution.language)!, { embeddedLanguages });
  if (!grammar) throw new Error(`could not load ${GRAMMAR_PATH}`);
  /** vscode-textmate's EncodedTokenAttributes: the language id is the low 8 bits of a token's metadata. */
  const languageOfMetadata = (metadata: number): string => languages[(metadata & 0xff) - 1] ?? `#${metadata & 0xff}`;
  const product = JSON.parse(readFileSync(join(VSCODE_DIR, 'product.json'), 'utf8')) as { version?: string };
  return {
    vscodeVersion: product.version ?? 'unknown',
    loaded: used,
    tokenize(text: string): GrammarToken[][] {
      let state = vsctm.INITIAL;
      return text.split(/\r?\n/).map((lineText, line) => {
        const r = grammar.tokenizeLine(lineText, state);
        const binary = grammar.tokenizeLine2(lineText, state).tokens; // [start, metadata] pairs
        state = r.ruleStack;
        const languageAt = (start: number): string => {
          let metadata = binary[1];
          for (let i = 0; i < binary.length && binary[i] <= start; i += 2) metadata = binary[i + 1];
          return languageOfMetadata(metadata);
        };
        return r.tokens.map((t) => ({
          line,
          start: t.startIndex,
          end: Math.min(t.endIndex, lineText.length),
          text: lineText.slice(t.startIndex, t.endIndex),
          scopes: t.scopes,
          language: languageAt(t.startIndex),
        }));
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
