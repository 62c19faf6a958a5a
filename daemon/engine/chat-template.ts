/**
 * Chat prompts from the GGUF's `tokenizer.chat_template` (Jinja, rendered with @huggingface/jinja, the
 * same engine transformers.js uses), with ChatML when the model has none. The rendered prompt holds
 * control-token text ("<|im_start|>"), so encode it with `parseSpecial: true`.
 */
import { Template } from '@huggingface/jinja';

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
}

export class ChatTemplateError extends Error {
  override readonly name = 'ChatTemplateError';
  constructor(
    message: string,
    /** Where it failed: reading the template, or running it on these messages. */
    readonly phase: 'parse' | 'render',
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** ChatML, as llama.cpp writes it for models without a template. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const compiled = new Map<string, Template>();
const COMPILED_LIMIT = 8;

function compile(template: string): Template {
  let t = compiled.get(template);
  if (t !== undefined) return t;
  try {
    t = new Template(template);
  } catch (e) {
    throw new ChatTemplateError(`chat template does not parse: ${messageOf(e)}`, 'parse', { cause: e });
  }
  if (compiled.size >= COMPILED_LIMIT) compiled.clear();
  compiled.set(template, t);
  return t;
}

/**
 * Render a conversation with the model's template (`undefined` or '' → ChatML). A template that raises
 * on the conversation (Mistral's "Conversation roles must alternate user/assistant…", an explicit
 * raise_exception on the system role) is tried once more with the leading system prompt folded into the
 * first user turn, as llama.cpp does for templates without a system role; if that fails too, the first
 * error is thrown.
 */
export function renderChat(template: string | undefined, messages: readonly ChatMessage[], opts: RenderChatOptions): string {
  const source = template === undefined || template.trim() === '' ? CHATML_TEMPLATE : template;
  const t = compile(source);
  try {
    return renderWith(t, messages, opts);
  } catch (e) {
    const folded = foldSystemPrompt(messages);
    if (!folded) throw e;
    try {
      return renderWith(t, folded, opts);
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

function renderWith(t: Template, messages: readonly ChatMessage[], opts: RenderChatOptions): string {
  try {
    return t.render({
      ...opts.variables,
      messages: messages.map((m) => ({ role: m.role, content: m.content })),
      bos_token: opts.bosToken,
      eos_token: opts.eosToken,
      add_generation_prompt: opts.addGenerationPrompt,
    });
  } catch (e) {
    const roles = messages.map((m) => m.role).join(', ');
    throw new ChatTemplateError(`chat template failed on messages [${roles}]: ${messageOf(e)}`, 'render', { cause: e });
  }
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

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
