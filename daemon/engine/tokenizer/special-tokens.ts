/**
 * Token attributes and the special ids llama.cpp finds by token text (src/llama-vocab.cpp, vocab
 * loading): end-of-turn, fill-in-the-middle and end-of-generation tokens, with the same text lists,
 * the same "control-looking token becomes control" correction and the same workarounds.
 *
 * One deliberate difference: CodeLlama's end of infill "▁<EOT>" (with U+2581, as its vocabulary
 * spells it) is an end-of-turn text here. llama.cpp lists "<EOT>" and "_<EOT>" (ASCII underscore)
 * only, so with a CodeLlama GGUF that lacks `tokenizer.ggml.eot_token_id` (older conversions) it
 * never stops an infill; its FIM texts already include "▁<PRE>", "▁<SUF>", "▁<MID>".
 */

/** Token attribute bits (llama_token_attr). */
export const enum TokenAttr {
  Undefined = 0,
  Unknown = 1 << 0,
  Unused = 1 << 1,
  Normal = 1 << 2,
  Control = 1 << 3,
  UserDefined = 1 << 4,
  Byte = 1 << 5,
}

/** GGUF `tokenizer.ggml.token_type` values. */
export const enum TokenType {
  Undefined = 0,
  Normal = 1,
  Unknown = 2,
  Control = 3,
  UserDefined = 4,
  Unused = 5,
  Byte = 6,
}

export function attrFromType(type: number): TokenAttr {
  switch (type) {
    case TokenType.Normal: return TokenAttr.Normal;
    case TokenType.Unknown: return TokenAttr.Unknown;
    case TokenType.Control: return TokenAttr.Control;
    case TokenType.UserDefined: return TokenAttr.UserDefined;
    case TokenType.Unused: return TokenAttr.Unused;
    case TokenType.Byte: return TokenAttr.Byte;
    default: return TokenAttr.Undefined;
  }
}

export interface FimIds {
  prefix?: number;
  suffix?: number;
  middle?: number;
  pad?: number;
  rep?: number;
  sep?: number;
}

const EOT_TEXTS = [
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<end_of_turn>', '<|endoftext|>', '<|end_of_text|>', '<EOT>', '_<EOT>',
  '[EOT]', '<｜end▁of▁sentence｜>', '<end_of_utterance>', '\u2581<EOT>',
];
const EOM_TEXTS = ['<|eom_id|>'];
const FIM_TEXTS: Record<keyof FimIds, readonly string[]> = {
  prefix: ['<|fim_prefix|>', '<fim-prefix>', '<fim_prefix>', '<｜fim▁begin｜>', '<PRE>', '▁<PRE>', '<|code_prefix|>', '<|prefix|>'],
  suffix: ['<|fim_suffix|>', '<fim-suffix>', '<fim_suffix>', '<｜fim▁hole｜>', '<SUF>', '▁<SUF>', '<|code_suffix|>', '<|suffix|>'],
  middle: ['<|fim_middle|>', '<fim-middle>', '<fim_middle>', '<｜fim▁end｜>', '<MID>', '▁<MID>', '<|code_middle|>', '<|middle|>'],
  pad: ['<|fim_pad|>', '<fim-pad>', '<fim_pad>', '<PAD>', '[PAD]'],
  rep: ['<|fim_repo|>', '<|repo_name|>', '<fim-repo>', '<REPO>', '<reponame>'],
  sep: ['<|file_sep|>'],
};
const EOG_TEXTS = new Set([
  '<|eot_id|>', '<|im_end|>', '<|end|>', '<|return|>', '<|call|>', '<|flush|>', '<|calls|>', '<end_of_turn>',
  '<|endoftext|>', '</s>', '<|eom_id|>', '<EOT>', '_<EOT>', '[EOT]', '[EOS]', '<|end_of_text|>', '<end_of_utterance>',
  '<eos>', '<turn|>', '<|tool_response>', '<｜end▁of▁sentence｜>', '[e~[', '\u2581<EOT>',
]);
/** gpt-oss: always rendered, so llama.cpp makes them user-defined. */
const ALWAYS_RENDERED = ['<|channel|>', '<|message|>', '<|start|>', '<|constrain|>'];

export interface SpecialIds {
  eotId?: number;
  eomId?: number;
  fim: FimIds;
  eogIds: Set<number>;
}

/**
 * Find eot/eom/fim ids not given in the GGUF, and the end-of-generation set. Mutates `attrs` as
 * llama.cpp does (detected tokens become control; gpt-oss channel tokens become user-defined).
 * llama.cpp walks a hash map, so when several texts of one list are present which one it picks is
 * unspecified; here the lowest id wins.
 */
export function detectSpecialIds(
  tokens: readonly string[],
  tokenToId: ReadonlyMap<string, number>,
  attrs: Uint8Array,
  given: { eosId?: number; eotId?: number; fim: FimIds },
  warn: (msg: string) => void,
): SpecialIds {
  const makeControl = (id: number): void => {
    if ((attrs[id]! & TokenAttr.Control) === 0) {
      warn(`tokenizer: control-looking token ${id} '${tokens[id]}' was not control-type; treating it as control`);
      attrs[id]! |= TokenAttr.Control;
    }
  };
  const find = (texts: readonly string[]): number | undefined => {
    let best: number | undefined;
    for (const t of texts) {
      const id = tokenToId.get(t);
      if (id !== undefined && (best === undefined || id < best)) best = id;
    }
    if (best !== undefined) makeControl(best);
    return best;
  };

  const eotId = given.eotId ?? find(EOT_TEXTS);
  const eomId = find(EOM_TEXTS);
  const fim: FimIds = {};
  for (const key of Object.keys(FIM_TEXTS) as (keyof FimIds)[]) {
    const id = given.fim[key] ?? find(FIM_TEXTS[key]);
    if (id !== undefined) fim[key] = id;
  }

  const eogIds = new Set<number>();
  for (const id of [fim.pad, fim.rep, fim.sep]) if (id !== undefined) eogIds.add(id);
  for (const text of EOG_TEXTS) {
    const id = tokenToId.get(text);
    if (id === undefined) continue;
    eogIds.add(id);
    makeControl(id);
  }
  for (const text of ALWAYS_RENDERED) {
    const id = tokenToId.get(text);
    if (id !== undefined) attrs[id] = TokenAttr.UserDefined;
  }
  for (const id of [given.eosId, eotId, eomId]) if (id !== undefined) eogIds.add(id);

  // o200k_harmony / solar-open: "<|end|>" ends a message, not the generation
  const has = (t: string): boolean => {
    const id = tokenToId.get(t);
    return id !== undefined && eogIds.has(id);
  };
  const endId = tokenToId.get('<|end|>');
  const hasCall = has('<|call|>') || has('<|calls|>');
  if (endId !== undefined && eogIds.has(endId) && hasCall && (has('<|return|>') || has('<|flush|>'))) {
    eogIds.delete(endId);
    attrs[endId] = TokenAttr.UserDefined;
  }
  // gemma4 / paddleocr: "</s>" is not end-of-generation when "<|tool_response>" is
  const sId = tokenToId.get('</s>');
  if (sId !== undefined && eogIds.has(sId) && has('<|tool_response>')) {
    eogIds.delete(sId);
    attrs[sId] = TokenAttr.Normal;
  }
  return { eotId, eomId, fim, eogIds };
}
