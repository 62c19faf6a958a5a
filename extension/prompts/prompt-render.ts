/**
 * Rendering a parsed prompt with @huggingface/jinja (the engine the daemon renders chat templates with) in the
 * bounded renderer process of daemon/template/template-sandbox.ts, and the small pure helpers around a run: which prompts apply to a
 * language, `/name rest` in chat, and the code to put in the editor when the answer replaces or is inserted.
 */
import { PROMPT_VARIABLES, type PromptDefinition, type PromptVariables } from './prompt-format';
import { TemplateLimitError, type TemplateLimits, type TemplateOutcome, type TemplateSandbox } from '../../daemon/template/template-sandbox';

/**
 * For a real run: the inputs include the selection and perhaps the whole file. 2 M characters is far more
 * than any model context the daemon runs.
 */
export const RENDER_LIMITS: Readonly<TemplateLimits> = { timeoutMs: 5_000, maxHeapMb: 256, maxOutputChars: 2 * 1024 * 1024 };

export interface RenderedPrompt {
  /** The system message, absent when the prompt has no system part or it renders empty. */
  system?: string;
  /** The user message. */
  user: string;
}

/** Why a prompt could not be rendered; the message names the prompt and its file. */
export class PromptRenderError extends Error {
  override readonly name = 'PromptRenderError';
  constructor(
    readonly prompt: Pick<PromptDefinition, 'name' | 'uri'>,
    readonly reason: string,
    /** Set when a time, memory or size limit stopped the render. */
    readonly limit?: TemplateLimitError,
  ) {
    super(`The prompt /${prompt.name} (${prompt.uri}) could not be rendered: ${reason}.`);
  }
}

/**
 * Renders both parts in the sandbox; every variable is a string ('' when missing). Leading and trailing blank
 * space is trimmed. Only the variables the prompt reads are sent to the renderer. Rejects with PromptRenderError.
 */
export async function renderPrompt(
  prompt: PromptDefinition,
  values: Partial<PromptVariables>,
  sandbox: TemplateSandbox,
  limits: Readonly<TemplateLimits> = RENDER_LIMITS,
): Promise<RenderedPrompt> {
  const items: Record<string, string> = {};
  for (const v of PROMPT_VARIABLES) items[v] = prompt.variables.includes(v) ? (values[v] ?? '') : '';
  const sources = prompt.systemTemplate === undefined ? [prompt.userTemplate] : [prompt.systemTemplate, prompt.userTemplate];
  let outcomes: TemplateOutcome[];
  try {
    outcomes = await sandbox.render(sources, items, limits);
  } catch (e) {
    if (e instanceof TemplateLimitError) throw new PromptRenderError(prompt, e.message, e);
    throw e;
  }
  const texts = outcomes.map((o) => {
    if (!o.ok) throw new PromptRenderError(prompt, o.message);
    return o.text.trim();
  });
  const user = texts[texts.length - 1];
  const system = texts.length === 2 ? texts[0] : '';
  return system ? { system, user } : { user };
}

/** Chat messages in the OpenAI shape the daemon's chat request takes. */
export function toChatMessages(rendered: RenderedPrompt): { role: 'system' | 'user'; content: string }[] {
  return rendered.system ? [{ role: 'system', content: rendered.system }, { role: 'user', content: rendered.user }] : [{ role: 'user', content: rendered.user }];
}

/** Whether a prompt applies to a document of this language id. */
export function appliesToLanguage(prompt: Pick<PromptDefinition, 'languages'>, languageId: string): boolean {
  return prompt.languages.length === 0 || prompt.languages.includes(languageId);
}

/** `/review focus on errors` → { name: 'review', input: 'focus on errors' }; undefined when the text is not a slash command. */
export function parseSlashCommand(text: string): { name: string; input: string } | undefined {
  const m = /^\s*\/([a-z][a-z0-9-]*)(?:\s+([\s\S]*))?$/.exec(text);
  return m ? { name: m[1], input: (m[2] ?? '').trim() } : undefined;
}

/**
 * The text to put in the editor for output: replace / insert. A model usually answers with one fenced code
 * block, perhaps with words around it: take the block's content; without a fence, the whole answer.
 */
export function extractCode(answer: string): string {
  const fences = [...answer.matchAll(/^[ \t]*(`{3,}|~{3,})[^\n]*\n([\s\S]*?)^[ \t]*\1[ \t]*$/gm)];
  if (fences.length === 0) return answer.trim();
  // The longest block is the code; short ones are usually usage examples.
  const longest = fences.reduce((a, b) => (b[2].length > a[2].length ? b : a));
  return longest[2].replace(/\n$/, '');
}
