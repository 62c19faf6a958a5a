/**
 * Token healing. A cursor in the middle of a word or an indentation leaves the prompt ending in a token
 * split the model never saw in training (`    retu` ends in ` ret` `u`, while BPE always turned
 * ` return` into one token), so it completes badly. Healing takes the prefix's last token back out of
 * the prompt and lets the first generated token be any text token whose bytes start with that token's
 * bytes (the token itself always among them); the healed text is already in the document, so it is then
 * cut from the start of the generated text. One token back, as tools/train/eval.py's Healer does.
 *
 * Not healed: a prefix of fewer than 2 tokens, a special (control or unknown) token, a token whose bytes
 * are not complete UTF-8 (the tail of a character split across tokens: its text cannot be cut from the
 * output as characters). "Text tokens" are the ones the tokenizer produces from plain text: normal and
 * byte tokens, and user-defined ones (encode() matches those in any text).
 */
import type { FimPrompt } from './fim-prompt.js';
import { maskWords, type TokenMask } from '../engine/token-mask.js';
import type { Tokenizer } from '../engine/tokenizer/tokenizer.js';

export interface HealedPrompt {
  /** The prompt ids, without the healed token when there is one. */
  ids: number[];
  /** Text of the healed token ('' when nothing was healed): the generated text starts with it. */
  healed: string;
  /** Tokens the first generated token may be (undefined when nothing was healed). */
  firstTokenMask?: TokenMask;
}

type HealTokenizer = Pick<Tokenizer, 'vocabSize' | 'isSpecial' | 'tokenToBytes'>;

const MASK_CACHE = 64;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function startsWith(bytes: Uint8Array, head: Uint8Array): boolean {
  if (bytes.length < head.length) return false;
  for (let i = 0; i < head.length; i++) if (bytes[i] !== head[i]) return false;
  return true;
}

export class TokenHealer {
  /** Ids of text tokens (non-empty bytes, not special), found on first use. */
  private textIds: number[] | undefined;
  /** First-token masks by healed token, most recently used last (typing in one word repeats them). */
  private readonly masks = new Map<number, TokenMask>();

  constructor(private readonly tok: HealTokenizer) {}

  /** Whether the prompt's token `id` can be healed (see the file comment). */
  healable(id: number): boolean {
    if (this.tok.isSpecial(id)) return false;
    const bytes = this.tok.tokenToBytes(id);
    if (bytes.length === 0) return false;
    try {
      utf8.decode(bytes);
      return true;
    } catch {
      return false;
    }
  }

  /** Text tokens whose bytes start with token `id`'s bytes (`id` itself included), cached. */
  firstTokenMask(id: number): TokenMask {
    let mask = this.masks.get(id);
    if (mask !== undefined) {
      this.masks.delete(id);
      this.masks.set(id, mask);
      return mask;
    }
    const head = this.tok.tokenToBytes(id);
    mask = new Uint32Array(maskWords(this.tok.vocabSize));
    for (const i of this.texts()) if (startsWith(this.tok.tokenToBytes(i), head)) mask[i >>> 5]! |= 1 << (i & 31);
    mask[id >>> 5]! |= 1 << (id & 31);
    this.masks.set(id, mask);
    if (this.masks.size > MASK_CACHE) this.masks.delete(this.masks.keys().next().value!);
    return mask;
  }

  /** Heals the last prefix token of a completion prompt, when it can be. */
  heal(prompt: Pick<FimPrompt, 'ids' | 'prefixTokens' | 'prefixEnd'>): HealedPrompt {
    const at = prompt.prefixEnd - 1;
    const id = prompt.ids[at];
    if (prompt.prefixTokens < 2 || id === undefined || !this.healable(id)) return { ids: prompt.ids, healed: '' };
    return {
      ids: [...prompt.ids.slice(0, at), ...prompt.ids.slice(at + 1)],
      healed: utf8.decode(this.tok.tokenToBytes(id)),
      firstTokenMask: this.firstTokenMask(id),
    };
  }

  private texts(): number[] {
    if (this.textIds === undefined) {
      this.textIds = [];
      for (let i = 0; i < this.tok.vocabSize; i++) if (!this.tok.isSpecial(i) && this.tok.tokenToBytes(i).length > 0) this.textIds.push(i);
    }
    return this.textIds;
  }
}

const healers = new WeakMap<object, TokenHealer>();

/** The healer of a tokenizer (one per tokenizer, so its mask cache outlives a request). */
export function healerFor(tok: HealTokenizer): TokenHealer {
  let h = healers.get(tok);
  if (h === undefined) healers.set(tok, (h = new TokenHealer(tok)));
  return h;
}

/**
 * Generated text relative to the cursor: `text` without the healed text it starts with. While the
 * text is still shorter than the healed part, nothing ('').
 */
export function stripHealed(text: string, healed: string): string {
  if (healed === '' || text.startsWith(healed)) return text.slice(healed.length);
  if (healed.startsWith(text)) return '';
  // unreachable with the first-token mask (the first token starts with the healed bytes)
  return text;
}
