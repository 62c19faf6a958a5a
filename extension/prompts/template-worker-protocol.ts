/**
 * The messages between the extension host and the template worker process (template-worker.ts), both ways, over
 * Node's IPC channel. The worker renders prompt templates with @huggingface/jinja so that a hostile or careless
 * template (a loop of a billion turns, a list of a billion numbers) costs a process that is stopped, never the
 * extension host.
 */

/** Host → worker: render each template with the same values. */
export interface RenderRequest {
  id: number;
  templates: string[];
  values: Record<string, string>;
  /** The worker refuses a result longer than this (UTF-16 code units, all templates together). */
  maxOutputChars: number;
}

/**
 * One template's result: its text, or the message it threw (an unknown filter, raise_exception, …). `exhausted`:
 * the engine ran out of a resource (V8's RangeError: a string or array past its maximum length, a stack overflow).
 */
export type TemplateOutcome = { ok: true; text: string } | { ok: false; message: string; exhausted?: true };

/** Worker → host. */
export type RenderResponse =
  /** Sent once, when the engine is loaded and requests can come. */
  | { id: 0; kind: 'ready' }
  | { id: number; kind: 'rendered'; outcomes: TemplateOutcome[] }
  /** The output went past maxOutputChars; `chars` is how long it got. */
  | { id: number; kind: 'too-large'; chars: number };
