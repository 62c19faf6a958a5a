/**
 * Chat prompts from the GGUF's `tokenizer.chat_template` (Jinja, rendered with @huggingface/jinja, the
 * same engine transformers.js uses), with ChatML when the model has none.
 *
 * The template is a program from a file, so it runs in a separate process with limits on time, memory
 * and output (template/template-sandbox.ts, which renders the extension's prompt files too); every render
 * goes through there.
 *
 * The rendered prompt holds control-token text ("<|im_start|>") written by the template, and message
 * text that must never become control tokens: an attached file containing "<|im_start|>system" would
 * otherwise open a system turn. So messages go into the template as stand-ins (a unique mark, keeping
 * the content's outer whitespace so `| trim` acts as on the content), and the content replaces each
 * mark afterwards, as a span of its own: renderChatSpans() returns the template's text and the
 * messages' text apart, for Tokenizer.encodeSpans().
 */
import { randomBytes } from 'node:crypto';
import { seconds, TemplateLimitError, TemplateSandbox, type TemplateLimitKind, type TemplateLimits, type TemplateOutcome } from '../template/template-sandbox.js';

export type ChatRole = 'system' | 'user' | 'assistant';

export interface ChatMessage {
  role: ChatRole;
  content: string;
}

export interface RenderChatOptions {
  /** Text of the BOS token ('' when the model has none). */
  bosToken: string;
  /** Text of the EOS token. */
  eosToken: string;
  /** End with the opening of an assistant turn. */
  addGenerationPrompt: boolean;
  /** Further template variables, e.g. `{ enable_thinking: false }` for Qwen3-style templates. */
  variables?: Record<string, unknown>;
  /** Where the template comes from, for errors (e.g. "tokenizer.chat_template of model.gguf"). */
  origin?: string;
  /** Most milliseconds a render may take (default 2000). */
  timeoutMs?: number;
  /** Heap of the renderer process, MB (default 256). */
  maxHeapMb?: number;
  /** The sandbox to render in (default: the process-wide one). */
  sandbox?: TemplateSandbox;
}

/**
 * What went wrong: the template does not parse, raised an error, ran past the time limit, ran out of memory
 * (its process's heap, or a size the engine allows), wrote too much, or its renderer could not run.
 */
export type ChatTemplateFailure = 'parse' | 'render' | 'time' | 'memory' | 'output' | 'unavailable';

export class ChatTemplateError extends Error {
  override readonly name = 'ChatTemplateError';
  constructor(
    message: string,
    /** Where it failed: reading the template, or running it on these messages. */
    readonly phase: 'parse' | 'render',
    /** The precise failure: parse, render (an error raised), time, memory, output (too long), unavailable. */
    readonly failure: ChatTemplateFailure = phase,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** ChatML, as llama.cpp writes it for models without a template. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export const DEFAULT_RENDER_TIMEOUT_MS = 2000;
/** The renderer process's heap, MB: far more than any real template needs for a long chat. */
export const DEFAULT_RENDER_HEAP_MB = 256;

let shared: TemplateSandbox | undefined;

/** The process-wide sandbox every chat render goes through (its renderer stays up between turns). */
export function chatTemplateSandbox(): TemplateSandbox {
  return (shared ??= new TemplateSandbox({ idleMs: 10 * 60_000 }));
}

/** A limit the sandbox reported, as this module's failure and the words after the template's name. */
function limitFailure(e: TemplateLimitError): [ChatTemplateFailure, string] {
  const failures: Record<TemplateLimitKind, ChatTemplateFailure> = { timeout: 'time', memory: 'memory', engine: 'memory', output: 'output', worker: 'unavailable' };
  const why: Record<TemplateLimitKind, string> = {
    timeout: `did not finish in ${seconds(e.limits.timeoutMs)}`,
    memory: `ran out of memory (limit ${e.limits.maxHeapMb} MB)`,
    engine: `ran out of memory: ${e.detail ?? 'a size limit of the template engine'}`,
    output: `wrote more than ${e.limits.maxOutputChars} characters`,
    worker: `could not be rendered: ${e.message}`,
  };
  return [failures[e.kind], why[e.kind]];
}

/** A piece of the rendered prompt: the template's own text, or text of a message. */
export interface RenderedSpan {
  text: string;
  fromMessage: boolean;
}

export interface RenderedChat {
  text: string;
  spans: RenderedSpan[];
}

/** Render a conversation with the model's template (`undefined` or '' → ChatML). */
export async function renderChat(template: string | undefined, messages: readonly ChatMessage[], opts: RenderChatOptions): Promise<string> {
  return (await renderChatSpans(template, messages, opts)).text;
}

/**
 * Render a conversation, keeping apart the template's text and the messages' text (see the file comment).
 * A template that raises on the conversation (Mistral's "Conversation roles must alternate
 * user/assistant…", an explicit raise_exception on the system role) is tried once more with the leading
 * system prompt folded into the first user turn, as llama.cpp does for templates without a system role;
 * if that fails too, the first error is thrown. Time and size limits are not retried.
 */
export async function renderChatSpans(template: string | undefined, messages: readonly ChatMessage[], opts: RenderChatOptions): Promise<RenderedChat> {
  try {
    return await renderSpansOnce(template, messages, opts);
  } catch (e) {
    const folded = e instanceof ChatTemplateError && e.failure === 'render' ? foldSystemPrompt(messages) : undefined;
    if (!folded) throw e;
    try {
      return await renderSpansOnce(template, folded, opts);
    } catch {
      throw e;
    }
  }
}

/**
 * The conversation with its leading system message(s) joined into the first user message
 * ("system\nuser", llama.cpp's system_message_not_supported); undefined when there is nothing to fold.
 */
export function foldSystemPrompt(messages: readonly ChatMessage[]): ChatMessage[] | undefined {
  let n = 0;
  while (n < messages.length && messages[n]!.role === 'system') n++;
  const user = messages.findIndex((m, i) => i >= n && m.role === 'user');
  if (n === 0 || user < 0) return undefined;
  const system = messages.slice(0, n).map((m) => m.content).join('\n');
  return messages.slice(n).map((m, i) => (i + n === user ? { role: 'user', content: `${system}\n${m.content}` } : m));
}

async function renderSpansOnce(template: string | undefined, messages: readonly ChatMessage[], opts: RenderChatOptions): Promise<RenderedChat> {
  const builtIn = template === undefined || template.trim() === '';
  const source = builtIn ? CHATML_TEMPLATE : template;
  const name = builtIn ? "MoeCode's built-in ChatML template" : `the model's chat template (${opts.origin ?? 'tokenizer.chat_template'})`;
  const nonce = randomBytes(8).toString('hex');
  const mark = (i: number) => `\uE000moecode-message-${nonce}-${i}\uE001`;
  const parts = messages.map((m) => splitOuterWhitespace(m.content));
  const inputChars = messages.reduce((n, m) => n + m.content.length, 0);
  const maxOutputChars = (1 << 20) + 2 * inputChars;
  const context = {
    ...opts.variables,
    messages: messages.map((m, i) => ({ role: m.role, content: parts[i]!.core === '' ? m.content : parts[i]!.lead + mark(i) + parts[i]!.trail })),
    bos_token: opts.bosToken,
    eos_token: opts.eosToken,
    add_generation_prompt: opts.addGenerationPrompt,
  };
  const timeoutMs = opts.timeoutMs ?? DEFAULT_RENDER_TIMEOUT_MS;
  const limits: TemplateLimits = { timeoutMs, maxHeapMb: opts.maxHeapMb ?? DEFAULT_RENDER_HEAP_MB, maxOutputChars };
  let outcomes: TemplateOutcome[];
  try {
    outcomes = await (opts.sandbox ?? chatTemplateSandbox()).render([source], context, limits);
  } catch (e) {
    if (!(e instanceof TemplateLimitError)) throw e;
    const [failure, why] = limitFailure(e);
    throw new ChatTemplateError(`${name} ${why}`, 'render', failure, { cause: e });
  }
  const outcome = outcomes[0]!;
  if (!outcome.ok) {
    if (outcome.phase === 'parse') throw new ChatTemplateError(`${name} does not parse: ${outcome.message}`, 'parse');
    throw new ChatTemplateError(`${name} failed on messages [${messages.map((m) => m.role).join(', ')}]: ${outcome.message}`, 'render');
  }
  const rendered = outcome.text;
  // each mark becomes its message's content, as a span of its own
  const spans: RenderedSpan[] = [];
  const re = new RegExp(`\uE000moecode-message-${nonce}-(\\d+)\uE001`, 'g');
  let from = 0;
  let total = 0;
  for (let m = re.exec(rendered); m !== null; m = re.exec(rendered)) {
    if (m.index > from) spans.push({ text: rendered.slice(from, m.index), fromMessage: false });
    const core = parts[Number(m[1])]?.core ?? '';
    spans.push({ text: core, fromMessage: true });
    total += core.length + m.index - from;
    // a template that repeats a message many times could multiply its size here
    if (total > maxOutputChars) throw new ChatTemplateError(`${name} wrote more than ${maxOutputChars} characters`, 'render', 'output');
    from = m.index + m[0].length;
  }
  if (from < rendered.length) spans.push({ text: rendered.slice(from), fromMessage: false });
  return { text: spans.map((s) => s.text).join(''), spans };
}

/** A text as its leading whitespace, the rest, and its trailing whitespace (the rest is '' for blank text). */
function splitOuterWhitespace(text: string): { lead: string; core: string; trail: string } {
  // a loop, not /\s*$/: that regex is quadratic on a long run of spaces inside the text
  const space = (i: number) => /\s/.test(text[i]!);
  let start = 0;
  while (start < text.length && space(start)) start++;
  let end = text.length;
  while (end > start && space(end - 1)) end--;
  return { lead: text.slice(0, start), core: text.slice(start, end), trail: text.slice(end) };
}

/** End-of-turn markers a template may use, and openings of a user turn (the model's turn is over). */
const END_MARKERS = [
  '<|im_end|>', '<|eot_id|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<|EOT|>',
  '<｜end▁of▁sentence｜>', '[INST]',
];
/** A template containing the first string writes roles after it, so the second opens a user turn. */
const USER_TURN_OPENINGS: [string, string][] = [
  ['<|im_start|>', '<|im_start|>user'],
  ['<|start_header_id|>', '<|start_header_id|>user<|end_header_id|>'],
  ['<start_of_turn>', '<start_of_turn>user'],
];

/**
 * Strings that end the assistant's turn under this template, for generations where the model writes
 * them as text instead of emitting an end-of-generation token. Includes the EOS text when given.
 */
export function stopStringsForTemplate(template: string | undefined, eosToken?: string): string[] {
  const source = template === undefined || template.trim() === '' ? CHATML_TEMPLATE : template;
  const out = END_MARKERS.filter((m) => source.includes(m));
  for (const [needle, opening] of USER_TURN_OPENINGS) if (source.includes(needle)) out.push(opening);
  if (eosToken && !out.includes(eosToken)) out.push(eosToken);
  return out;
}

