/**
 * A conversation as prompt ids: rendered with the model's chat template (in its sandbox), the
 * template's text encoded with control tokens and the messages' text without (see chat-template.ts).
 * The one path from messages to ids for the daemon's chat and explain and the CLI's `run --chat`.
 */
import { basename } from 'node:path';
import { renderChatSpans, type ChatMessage, type RenderChatOptions } from './chat-template.js';
import type { Tokenizer } from './tokenizer/tokenizer.js';

export interface ChatEncoder {
  tokenizer: Tokenizer;
  chatTemplate: string | undefined;
  /** The model file, to name the template in errors. */
  model?: { path: string };
}

export type EncodeChatOptions = Pick<RenderChatOptions, 'timeoutMs' | 'sandbox' | 'variables'>;

/** Where a model's template comes from, for errors: "tokenizer.chat_template of model.gguf". */
export function templateOrigin(engine: Pick<ChatEncoder, 'model'>): string {
  return engine.model ? `tokenizer.chat_template of ${basename(engine.model.path)}` : 'tokenizer.chat_template';
}

export async function encodeChat(engine: ChatEncoder, messages: readonly ChatMessage[], opts: EncodeChatOptions = {}): Promise<number[]> {
  const tok = engine.tokenizer;
  const rendered = await renderChatSpans(engine.chatTemplate, messages, {
    ...opts,
    bosToken: tok.bosId !== undefined ? tok.decode([tok.bosId]) : '',
    eosToken: tok.eosId !== undefined ? tok.decode([tok.eosId]) : '',
    addGenerationPrompt: true,
    origin: templateOrigin(engine),
  });
  // a generation prompt never ends in EOS; a template that writes BOS itself gets no second one (llama.cpp strips it too)
  const ids = tok.encodeSpans(rendered.spans.map((s) => ({ text: s.text, parseSpecial: !s.fromMessage })), { addEos: false });
  if (tok.bosId !== undefined && ids.length > 1 && ids[0] === tok.bosId && ids[1] === tok.bosId) ids.shift();
  return ids;
}
