/**
 * Fill-in-the-middle prompts of the model families a remote server may run, one row each: how the
 * family's model ids look, the prompt as the family was trained (sent as text to /v1/completions; the
 * server's tokenizer turns the markers into their special tokens and adds BOS itself), and the strings
 * that end a middle. Sources: each family's model card / reference code.
 *
 *   family          prompt                                                    order
 *   qwen-coder      <|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>                  PSM   Qwen2.5-Coder, Qwen3-Coder
 *   deepseek-coder  <｜fim▁begin｜>P<｜fim▁hole｜>S<｜fim▁end｜>                      PSM   DeepSeek-Coder v1 and V2 (same markers)
 *   codestral       [SUFFIX]S[PREFIX]P                                        SPM   Codestral (Mistral's FIM)
 *   starcoder2      <fim_prefix>P<fim_suffix>S<fim_middle>                    PSM   StarCoder2 (and StarCoder)
 *   codellama       <PRE> P <SUF>S <MID>                                      PSM   Code Llama (spaces as in Meta's reference)
 *   granite-code    <fim_prefix>P<fim_suffix>S<fim_middle>                    PSM   Granite Code 3B–34B (StarCoder tokens)
 *   granite4        <|fim_prefix|>P<|fim_suffix|>S<|fim_middle|>              PSM   Granite 4.0
 *
 * Servers stop at the model's end-of-sequence token themselves; the stop strings also catch a marker
 * printed as text (a server that does not skip special tokens). At most four are sent (OpenAI's limit,
 * which some servers enforce); the daemon cuts at all of them.
 */
import type { FimFamilyId, FimTemplateSetting } from '../protocol.js';

export interface FimFamily {
  id: FimFamilyId;
  label: string;
  /** Model ids of this family (Hugging Face, Ollama and LM Studio spellings). Tried in table order. */
  matches: RegExp;
  render(prefix: string, suffix: string): string;
  /** Strings that end the middle, most important first. */
  stop: readonly string[];
}

export const FIM_FAMILY_TABLE: Readonly<Record<FimFamilyId, FimFamily>> = {
  'qwen-coder': {
    id: 'qwen-coder',
    label: 'Qwen2.5-Coder / Qwen3-Coder',
    matches: /qwen[\w.-]*coder/i,
    render: (p, s) => `<|fim_prefix|>${p}<|fim_suffix|>${s}<|fim_middle|>`,
    stop: ['<|endoftext|>', '<|fim_pad|>', '<|file_sep|>', '<|im_end|>', '<|repo_name|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|im_start|>'],
  },
  'deepseek-coder': {
    id: 'deepseek-coder',
    label: 'DeepSeek-Coder (v1 and V2)',
    matches: /deepseek[\w.-]*coder/i,
    render: (p, s) => `<｜fim▁begin｜>${p}<｜fim▁hole｜>${s}<｜fim▁end｜>`,
    stop: ['<｜end▁of▁sentence｜>', '<｜EOT｜>', '<｜fim▁begin｜>', '<｜fim▁hole｜>', '<｜fim▁end｜>'],
  },
  codestral: {
    id: 'codestral',
    label: 'Codestral',
    matches: /codestral/i,
    render: (p, s) => `[SUFFIX]${s}[PREFIX]${p}`,
    stop: ['</s>', '[PREFIX]', '[SUFFIX]', '[MIDDLE]'],
  },
  starcoder2: {
    id: 'starcoder2',
    label: 'StarCoder2',
    matches: /starcoder|star-coder/i,
    render: (p, s) => `<fim_prefix>${p}<fim_suffix>${s}<fim_middle>`,
    stop: ['<|endoftext|>', '<file_sep>', '<fim_prefix>', '<fim_middle>', '<fim_suffix>'],
  },
  codellama: {
    id: 'codellama',
    label: 'Code Llama',
    matches: /code[-_ ]?llama/i,
    render: (p, s) => `<PRE> ${p} <SUF>${s} <MID>`,
    stop: ['<EOT>', '</s>', '<PRE>', '<SUF>', '<MID>'],
  },
  'granite-code': {
    id: 'granite-code',
    label: 'Granite Code',
    matches: /granite[\w.:-]*code/i,
    render: (p, s) => `<fim_prefix>${p}<fim_suffix>${s}<fim_middle>`,
    stop: ['<|endoftext|>', '<fim_prefix>', '<fim_suffix>', '<fim_middle>'],
  },
  granite4: {
    id: 'granite4',
    label: 'Granite 4.0',
    matches: /granite[-_ ]?4/i,
    render: (p, s) => `<|fim_prefix|>${p}<|fim_suffix|>${s}<|fim_middle|>`,
    stop: ['<|end_of_text|>', '<|fim_prefix|>', '<|fim_suffix|>', '<|fim_middle|>', '<|fim_pad|>'],
  },
};

/** Most stop strings sent with a request. */
export const MAX_STOP_STRINGS = 4;

/** The family of a model id, or undefined when none matches. */
export function detectFimFamily(modelId: string): FimFamily | undefined {
  return Object.values(FIM_FAMILY_TABLE).find((f) => f.matches.test(modelId));
}

/** The family to use: the one the setting names, else the one the model id suggests. */
export function fimFamilyFor(setting: FimTemplateSetting, modelId: string): FimFamily | undefined {
  return setting === 'auto' ? detectFimFamily(modelId) : FIM_FAMILY_TABLE[setting];
}

/** Where the first stop string starts in `text` (undefined: none). */
export function stopStringAt(text: string, stops: readonly string[]): number | undefined {
  let at: number | undefined;
  for (const s of stops) {
    const i = text.indexOf(s);
    if (i >= 0 && (at === undefined || i < at)) at = i;
  }
  return at;
}
