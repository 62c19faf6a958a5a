/**
 * The conversation of one workspace, kept in `workspaceState` so it survives a reload. Turns that were
 * streaming when the window closed come back as stopped.
 */
import type * as vscode from 'vscode';
import type { ChatMessage } from '../../daemon/protocol';
import type { ChatTurn } from './messages';

/** A turn plus what the model saw for it (a user turn's full prompt with its attached code). */
export interface StoredTurn extends ChatTurn {
  modelText?: string;
}

const KEY = 'moecode.chat.history.v1';
/** Oldest turns are dropped beyond this, so workspace state stays small. */
export const MAX_STORED_TURNS = 200;

export class ChatHistory {
  private turns: StoredTurn[];

  constructor(private readonly memento: vscode.Memento) {
    const saved = memento.get<StoredTurn[]>(KEY, []);
    this.turns = Array.isArray(saved)
      ? saved.map((t) => (t.status === 'streaming' ? { ...t, status: 'stopped' as const } : t))
      : [];
  }

  all(): readonly StoredTurn[] {
    return this.turns;
  }

  get(id: string): StoredTurn | undefined {
    return this.turns.find((t) => t.id === id);
  }

  add(turn: StoredTurn): void {
    this.turns.push(turn);
    if (this.turns.length > MAX_STORED_TURNS) this.turns.splice(0, this.turns.length - MAX_STORED_TURNS);
  }

  clear(): void {
    this.turns = [];
  }

  /** The conversation as chat messages for the daemon: finished turns only, user turns as the model saw them. */
  toMessages(): ChatMessage[] {
    const out: ChatMessage[] = [];
    for (const t of this.turns) {
      if (t.role === 'assistant' && t.status === 'error') continue;
      const content = t.role === 'user' ? (t.modelText ?? t.content) : t.content;
      if (content.trim()) out.push({ role: t.role, content });
    }
    return out;
  }

  save(): Thenable<void> {
    return this.memento.update(KEY, this.turns);
  }
}
