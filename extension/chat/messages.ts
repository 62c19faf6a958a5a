/**
 * Messages between the chat webview (browser) and the extension host: one discriminated union per
 * direction. Imported by both sides; no `vscode` or DOM types here.
 */
export type TurnStatus = 'streaming' | 'done' | 'stopped' | 'error';

export interface ChatTurn {
  id: string;
  role: 'user' | 'assistant';
  /** Markdown. */
  content: string;
  /** Label of the context that went with a user turn, e.g. "src/a.ts:3-9". */
  contextLabel?: string;
  status: TurnStatus;
  error?: string;
  /** "12.3 tok/s · 40 tokens" after an answer. */
  footer?: string;
}

export interface SelectionInfo {
  /** "src/a.ts:3-9" */
  label: string;
  lines: number;
}

export interface SlashCommand {
  name: string;
  description: string;
}

export type ToWebview =
  | { type: 'init'; turns: ChatTurn[]; busy: boolean; selection?: SelectionInfo; attach: boolean; commands: SlashCommand[]; ready: boolean; notice?: string }
  | { type: 'turn'; turn: ChatTurn }
  | { type: 'delta'; id: string; delta: string }
  | { type: 'busy'; busy: boolean }
  | { type: 'selection'; selection?: SelectionInfo }
  | { type: 'commands'; commands: SlashCommand[] }
  | { type: 'notice'; notice?: string }
  | { type: 'focusInput' };

export type FromWebview =
  | { type: 'ready' }
  | { type: 'send'; text: string; attach: boolean }
  | { type: 'stop' }
  | { type: 'newChat' }
  | { type: 'setAttach'; attach: boolean }
  | { type: 'copy'; code: string }
  | { type: 'insert'; code: string }
  | { type: 'open'; code: string; language?: string };
