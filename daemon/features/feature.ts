/**
 * A server feature, in the manner of tabby-agent: it registers its handlers when constructed,
 * contributes capabilities at `initialize`, may start work at `initialized`, and stops at `shutdown`.
 * server.ts builds them all from one ServerContext and merges their capabilities.
 */
import type { Connection, InitializeParams, ServerCapabilities, TextDocuments } from 'vscode-languageserver/node';
import type { TextDocument } from 'vscode-languageserver-textdocument';
import type { Scheduler } from '../scheduler/scheduler.js';
import type { GenerationBackend } from './generation-backend.js';
import type { Lifecycle } from './lifecycle.js';
import type { ModelManager } from './model-manager.js';
import type { Settings } from './settings.js';

export interface Logger {
  log(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ServerContext {
  connection: Connection;
  documents: TextDocuments<TextDocument>;
  settings: Settings;
  model: ModelManager;
  /** Local model or remote server: which one a request goes to. */
  backend: GenerationBackend;
  scheduler: Scheduler;
  lifecycle: Lifecycle;
  logger: Logger;
}

export interface Feature {
  readonly name: string;
  initialize?(params: InitializeParams): Partial<ServerCapabilities> | void;
  initialized?(): Promise<void> | void;
  /** A document closed: drop what is kept for it. */
  documentClosed?(uri: string): void;
  /** The model is being replaced or unloaded: drop what was computed with it. */
  modelChanged?(): void;
  /** workspace/didChangeConfiguration arrived. */
  settingsChanged?(): void;
  shutdown?(): Promise<void> | void;
}
