/**
 * The `.prompt` file format: the types a parsed prompt has and the vocabulary its front matter and template
 * may use. Written once here; the parser, the validator, the renderer and the grammar's tests read it.
 *
 *     ---
 *     name: review                 # the /name in chat; defaults to the file name
 *     title: Review Selection      # command palette and menus; defaults to the name in Title Case
 *     description: Review the selection for bugs
 *     selection: required          # required | optional | none
 *     languages: [typescript]      # language ids it applies to; absent or [] = every language
 *     temperature: 0.2             # 0..2; absent = the user's setting
 *     maxTokens: 800               # absent = the user's setting
 *     output: chat                 # chat | replace | insert
 *     ---
 *     {% system %}You are a careful {{ language }} reviewer.{% endsystem %}
 *     Review this code from {{ path }}:
 *     ```{{ language }}
 *     {{ selection }}
 *     ```
 *
 * No `vscode` import: this module and the parser run in plain Node for the unit tests.
 */

/** The variables a template may read; every one is a string, '' when there is nothing to give. */
export const PROMPT_VARIABLES = ['selection', 'file', 'language', 'path', 'input'] as const;
export type PromptVariable = (typeof PROMPT_VARIABLES)[number];

/** What each variable holds, for hovers, error messages and docs. */
export const PROMPT_VARIABLE_DOCS: Readonly<Record<PromptVariable, string>> = {
  selection: 'the selected text ("" when nothing is selected)',
  file: 'the whole text of the active file',
  language: "the active file's language id, e.g. typescript",
  path: "the active file's path relative to its workspace folder",
  input: 'text asked from the user when the prompt runs (or typed after /name in chat)',
};

export const SELECTION_MODES = ['required', 'optional', 'none'] as const;
export type SelectionMode = (typeof SELECTION_MODES)[number];

export const OUTPUT_MODES = ['chat', 'replace', 'insert'] as const;
/** Where the answer goes: the chat panel, in place of the selection, or inserted at the cursor. */
export type OutputMode = (typeof OUTPUT_MODES)[number];

export const FRONT_MATTER_KEYS = [
  'name',
  'title',
  'description',
  'selection',
  'languages',
  'temperature',
  'maxTokens',
  'output',
] as const;
export type FrontMatterKey = (typeof FRONT_MATTER_KEYS)[number];

/** A prompt name: what follows `/` in chat and `moecode.prompt.` in a command id. */
export const PROMPT_NAME_PATTERN = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
export const PROMPT_NAME_MAX_LENGTH = 40;

export const TEMPERATURE_MIN = 0;
export const TEMPERATURE_MAX = 2;

/** Where a prompt file was found; a higher origin wins when two prompts have one name. */
export type PromptOrigin = 'builtin' | 'user' | 'workspace';
export const ORIGIN_PRECEDENCE: Readonly<Record<PromptOrigin, number>> = { builtin: 0, user: 1, workspace: 2 };

/** 0-based line and UTF-16 column, as LSP and VS Code count. */
export interface Position {
  line: number;
  character: number;
}

export interface Range {
  start: Position;
  end: Position;
}

export type DiagnosticSeverity = 'error' | 'warning' | 'information';

export type PromptDiagnosticCode =
  | 'missing-front-matter'
  | 'unclosed-front-matter'
  | 'yaml-syntax'
  | 'front-matter-not-a-map'
  | 'unknown-key'
  | 'bad-type'
  | 'bad-value'
  | 'missing-body'
  | 'template-syntax'
  | 'unclosed-tag'
  | 'unbalanced-block'
  | 'unknown-tag'
  | 'misplaced-system'
  | 'unknown-variable'
  | 'unknown-filter'
  | 'template-runtime'
  | 'template-limit'
  | 'template-unchecked'
  | 'file-too-large'
  | 'unused-selection'
  | 'output-needs-selection'
  | 'duplicate-name'
  | 'overrides-builtin'
  | 'untrusted-workspace';

export interface PromptDiagnostic {
  range: Range;
  severity: DiagnosticSeverity;
  code: PromptDiagnosticCode;
  message: string;
}

/** A prompt file that parsed without errors. Plain data: it crosses to the chat webview as JSON. */
export interface PromptDefinition {
  name: string;
  /** For the command palette, quick picks and messages, e.g. "Write Tests for Selection". */
  title: string;
  description: string;
  selection: SelectionMode;
  /** Language ids it applies to; empty = every language. */
  languages: string[];
  temperature?: number;
  maxTokens?: number;
  output: OutputMode;
  /** Jinja source of the system part (`{% system %}…{% endsystem %}`), absent when the file has none. */
  systemTemplate?: string;
  /** Jinja source of the user message: the body without the system part. */
  userTemplate: string;
  /** The prompt variables the templates read, in PROMPT_VARIABLES order. */
  variables: PromptVariable[];
  /** The file it came from (a URI string). */
  uri: string;
  /** Where the name is written (the `name:` value, or the file's first line when it comes from the file name). */
  nameRange: Range;
}

export interface ParseResult {
  /** Absent when the file has an error; it is then skipped and the other files still load. */
  prompt?: PromptDefinition;
  diagnostics: PromptDiagnostic[];
}

/** The values a prompt is rendered with. */
export type PromptVariables = Readonly<Record<PromptVariable, string>>;
