/**
 * The messages between a host (the daemon, the CLI, the extension host) and its template renderer process
 * (template-renderer.ts), both ways, over Node's IPC channel.
 */

/** Host → renderer: render each template with the same variables. */
export interface RenderRequest {
  id: number;
  templates: string[];
  /** Template variables (plain data: they cross the IPC channel as JSON). */
  context: Record<string, unknown>;
  /** The renderer refuses a result longer than this (UTF-16 code units, all templates together). */
  maxOutputChars: number;
}

/**
 * One template's result: its text, or why it failed. `phase`: the template does not parse, or it raised an
 * error while rendering (an unknown filter, raise_exception, …). `exhausted`: the engine ran out of a resource
 * (a RangeError: range() past MAX_RANGE_ITEMS, a string or array past V8's maximum length, a stack overflow).
 */
export type TemplateOutcome = { ok: true; text: string } | { ok: false; phase: 'parse' | 'render'; message: string; exhausted?: true };

/** Renderer → host. */
export type RenderResponse =
  /** Sent once, when the engine is loaded and requests can come. */
  | { id: 0; kind: 'ready' }
  | { id: number; kind: 'rendered'; outcomes: TemplateOutcome[] }
  /** The output went past maxOutputChars; `chars` is how long it got. */
  | { id: number; kind: 'too-large'; chars: number };

/** The renderer answers requests only when started with this variable set (not when a test imports it). */
export const RENDERER_ENV = 'MOECODE_TEMPLATE_RENDERER';
