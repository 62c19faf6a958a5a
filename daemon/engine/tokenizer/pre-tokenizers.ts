/**
 * Pre-tokenizers of byte-level BPE vocabularies, chosen by `tokenizer.ggml.pre` as llama.cpp does
 * (src/llama-vocab.cpp, llm_tokenizer_bpe). Each is a list of regular expressions applied in turn:
 * every expression splits every piece left by the previous one into its matches and the unmatched
 * gaps between them (llama.cpp's unicode_regex_split). The patterns are the ones llama.cpp uses
 * (already rewritten from the tokenizer.json originals to avoid `(?i:…)`), turned into JavaScript
 * `u`-mode expressions with one change: `\s` means llama.cpp's whitespace set, which is JavaScript's
 * minus U+FEFF plus U+0085.
 *
 * llama.cpp runs the common patterns (gpt2, llama3, qwen2, qwen35) through hand-written matchers that
 * behave as the regular expressions; the others through std::regex on text where each non-ASCII
 * character is replaced by its Unicode category. Both agree with the expressions below up to the
 * Unicode version of the category tables.
 */

/** llama.cpp's whitespace code points (unicode_set_whitespace), as the inside of a character class. */
const WS = '\\t-\\r \\x85\\xA0\\u1680\\u2000-\\u200A\\u2028\\u2029\\u202F\\u205F\\u3000';

/**
 * Translate a llama.cpp pattern: `\s` and `\S` become explicit classes over WS, and the letter
 * subcategories `\p{Lu}`, `\p{Ll}`, `\p{Lt}`, `\p{Lm}`, `\p{Lo}` become `\p{L}`: llama.cpp matches
 * them all as "letter" (its category tables have no case), so e.g. youtu's cased-word pattern takes
 * "mMdE" as one word there, and must here too.
 */
function compile(pattern: string): RegExp {
  pattern = pattern.replace(/\\p\{L[ultmo]\}/g, '\\p{L}');
  let out = '';
  let inClass = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '\\') {
      const n = pattern[i + 1];
      if (n === 's') out += inClass ? WS : `[${WS}]`;
      else if (n === 'S') {
        if (inClass) throw new Error(`pre-tokenizer pattern has \\S inside a class: ${pattern}`);
        out += `[^${WS}]`;
      } else out += c + (n ?? '');
      i++;
      continue;
    }
    if (c === '[' && !inClass) inClass = true;
    else if (c === ']' && inClass) inClass = false;
    out += c;
  }
  return new RegExp(out, 'gu');
}

export interface PreTokenizerSpec {
  /** Patterns as written in llama.cpp (llama.cpp's `\s`). */
  patterns: readonly string[];
  /** A word that is itself a token is taken whole, without merges (llama.cpp's ignore_merges). */
  ignoreMerges?: boolean;
  /** Default for add_bos when the GGUF has no `tokenizer.ggml.add_bos_token`. */
  addBos?: boolean;
}

// Shared pattern texts.
const CONTRACTIONS = String.raw`(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])`;
const GPT2 = String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`;
const LLAMA3 = CONTRACTIONS + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const QWEN2 = CONTRACTIONS + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
const GPT4O_CASED =
  String.raw`[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+` + CONTRACTIONS +
  String.raw`?|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*` + CONTRACTIONS +
  String.raw`?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`;
// Contains a backtick, so not a String.raw template.
const ASCII_PUNCT_THEN_LETTERS = '[!"#$%&\'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+';

const SPECS = {
  default: {
    patterns: [String.raw`[\p{P}\$\+<=>\^~\|]+`, GPT2, String.raw`\p{N}+`, '[0-9][0-9][0-9]'],
  },
  gpt2: { patterns: [GPT2] },
  llama3: { patterns: [LLAMA3], ignoreMerges: true, addBos: true },
  dbrx: { patterns: [LLAMA3] }, // also smaug-bpe: llama3's pattern without its flags
  jais2: {
    patterns: [
      CONTRACTIONS +
        String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s{512}(?!\S)|\s{256}(?!\S)|\s{128}(?!\S)|\s{64}(?!\S)|\s{32}(?!\S)|\s{16}(?!\S)|\s{8}(?!\S)|\s{4}(?!\S)|\s{1,2}(?!\S)|\s{1}`,
    ],
  },
  'deepseek-llm': {
    patterns: [
      '[\r\n]',
      '\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A\u{10400}-\u{1044F}\u{104B0}-\u{104D3}\u{104D8}-\u{104FB}\u{10C80}-\u{10CB2}\u{10CC0}-\u{10CF2}\u{118A0}-\u{118DF}\u{1E900}-\u{1E943}]+',
      '\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+',
      '\\s+$',
      '[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+',
      '\\p{N}+',
    ],
  },
  'deepseek-v3': {
    patterns: [
      String.raw`\p{N}{1,3}`,
      '[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+',
      ASCII_PUNCT_THEN_LETTERS +
        String.raw`|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    ],
  },
  youtu: {
    patterns: [
      '[\uAC00-\uD7A3\u3131-\u318E]+|[\uFF01\u2026\u201C\u201D\u2018\u2019\u2014\uFF1A\uFF1B\uFF0C\u3001-\u303F\uFE30-\uFE4F]+|[\u3105-\u312F]+|[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+',
      String.raw`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+` + CONTRACTIONS +
        String.raw`?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*` + CONTRACTIONS +
        String.raw`?|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    ],
    ignoreMerges: true,
  },
  'deepseek-coder': {
    patterns: ['[\r\n]', String.raw`\s?\p{L}+`, String.raw`\s?\p{P}+`, '[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+', String.raw`\p{N}`],
  },
  falcon: {
    patterns: [
      String.raw`[\p{P}\$\+<=>\^~\|\x60]+`,
      String.raw`'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)`,
      '[0-9][0-9][0-9]',
    ],
  },
  starcoder: { patterns: [String.raw`\p{N}`, GPT2] },
  qwen2: { patterns: [QWEN2] },
  qwen35: {
    patterns: [
      CONTRACTIONS +
        String.raw`|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    ],
  },
  poro: { patterns: [' ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+'] },
  chatglm4: { patterns: [LLAMA3] },
  viking: { patterns: [' ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+', String.raw`\p{N}`] },
  tekken: {
    patterns: [
      String.raw`[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+|[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    ],
    ignoreMerges: true,
    addBos: true,
  },
  chameleon: {
    patterns: [
      '<sentinel:[0-9]+>',
      '(IMGIMG)((A|B|C|D|E|F|G|H|I){1,4})Z',
      '([\\t\\n]|    |  )',
      String.raw`\p{N}`,
      String.raw`[\p{P}!-/:-@\[-\x60{-~]`,
      GPT2,
    ],
    addBos: true,
  },
  'gpt-4o': { patterns: [GPT4O_CASED] },
  'granite-embed-multi-97m': {
    patterns: [
      String.raw`[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))*((?=[\p{L}\p{M}])([^A-Z]))+` + CONTRACTIONS +
        String.raw`?|[^\r\n\p{L}\p{N}]?((?=[\p{L}\p{M}])([^a-z]))+((?=[\p{L}\p{M}])([^A-Z]))*` + CONTRACTIONS +
        String.raw`?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    ],
    ignoreMerges: true,
  },
  bailingmoe: {
    patterns: [
      String.raw`'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]|\s+(?!\S)|\s+`,
    ],
  },
  'seed-coder': {
    patterns: [
      CONTRACTIONS + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1}| ?[^\s\p{L}\p{N}\r\n]+|\s*[\r\n]+|\s+(?!\S)|\s+`,
    ],
  },
  laguna: { patterns: ['[^\\n]+|[\\n]+', QWEN2] },
  'exaone-moe': {
    patterns: [
      CONTRACTIONS +
        String.raw`|[^\r\n\p{L}\p{N}]?(?:\p{L}\p{M}*(?: \p{L}\p{M}*)*)+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]?|\s*[\r\n]|\s+(?!\S)|\s+`,
    ],
  },
  minicpm5: {
    patterns: [
      String.raw`\p{N}{1,3}`,
      CONTRACTIONS + String.raw`|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}+| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`,
    ],
    ignoreMerges: true,
  },
} satisfies Record<string, PreTokenizerSpec>;

type SpecName = keyof typeof SPECS;

/** `tokenizer.ggml.pre` value → pre-tokenizer, with the aliases llama.cpp accepts. */
const PRE_NAMES: Record<string, SpecName> = {
  default: 'default',
  // GPT-2 family ("gpt2" is not a llama.cpp name but is what people write)
  gpt2: 'gpt2', 'gpt-2': 'gpt2', 'phi-2': 'gpt2', 'jina-es': 'gpt2', 'jina-de': 'gpt2', gigachat: 'gpt2',
  'jina-v2-es': 'gpt2', 'jina-v2-de': 'gpt2', 'a.x-4.0': 'gpt2', mellum: 'gpt2', 'modern-bert': 'gpt2',
  'jina-v1-en': 'gpt2', 'jina-v2-code': 'gpt2', 'roberta-bpe': 'gpt2', exaone4: 'gpt2', mpt: 'gpt2',
  olmo: 'gpt2', jais: 'gpt2', trillion: 'gpt2', 'granite-docling': 'gpt2',
  llama3: 'llama3', 'llama-v3': 'llama3', 'llama-bpe': 'llama3', falcon3: 'llama3', 'falcon-h1': 'llama3',
  pixtral: 'llama3', 'midm-2.0': 'llama3', lfm2: 'llama3', 'jina-v5-nano': 'llama3',
  dbrx: 'dbrx', 'smaug-bpe': 'dbrx',
  'jais-2': 'jais2',
  'deepseek-llm': 'deepseek-llm',
  'deepseek-coder': 'deepseek-coder',
  'deepseek-v3': 'deepseek-v3', 'hunyuan-dense': 'deepseek-v3', 'joyai-llm': 'deepseek-v3',
  youtu: 'youtu',
  falcon: 'falcon',
  starcoder: 'starcoder', refact: 'starcoder', 'command-r': 'starcoder', smollm: 'starcoder',
  codeshell: 'starcoder', exaone: 'starcoder', 'minerva-7b': 'starcoder', mellum2: 'starcoder',
  qwen2: 'qwen2', 'deepseek-r1-qwen': 'qwen2', kormo: 'qwen2', f2llmv2: 'qwen2', megrez: 'qwen2',
  stablelm2: 'qwen2', hunyuan: 'qwen2', 'solar-open': 'qwen2',
  qwen35: 'qwen35',
  'poro-chat': 'poro', bloom: 'poro', 'gpt3-finnish': 'poro',
  glm4: 'chatglm4', 'chatglm-bpe': 'chatglm4',
  viking: 'viking',
  tekken: 'tekken',
  chameleon: 'chameleon',
  'gpt-4o': 'gpt-4o', llama4: 'gpt-4o', kanana2: 'gpt-4o', talkie: 'gpt-4o', 'minimax-m2': 'gpt-4o',
  'granite-embed-multi-97m': 'granite-embed-multi-97m',
  bailingmoe: 'bailingmoe', bailingmoe2: 'bailingmoe', 'llada-moe': 'bailingmoe',
  'seed-coder': 'seed-coder',
  'grok-2': 'qwen2', // same pattern as qwen2
  laguna: 'laguna',
  'exaone-moe': 'exaone-moe',
  minicpm5: 'minicpm5',
};

export interface PreTokenizer {
  /** The pre-tokenizer actually used (a key of the table, e.g. "llama3" for "llama-bpe"). */
  readonly name: string;
  readonly ignoreMerges: boolean;
  readonly addBos: boolean;
  /** Split text into words; concatenated they give `text` back. */
  split(text: string): string[];
}

function makePreTokenizer(name: SpecName): PreTokenizer {
  const spec: PreTokenizerSpec = SPECS[name];
  const regexes = spec.patterns.map(compile);
  return {
    name,
    ignoreMerges: spec.ignoreMerges ?? false,
    addBos: spec.addBos ?? false,
    split: (text) => splitByRegexes(text, regexes),
  };
}

/**
 * Resolve `tokenizer.ggml.pre`. Missing → "default" (as llama.cpp, which warns that quality degrades);
 * unknown or not supported here → gpt2's pattern, with a warning.
 */
export function preTokenizerFor(pre: string | undefined, warn: (msg: string) => void): PreTokenizer {
  if (pre === undefined || pre === '') {
    warn('tokenizer: GGUF has no tokenizer.ggml.pre; using the "default" pre-tokenizer (llama.cpp does the same; quality may degrade)');
    return makePreTokenizer('default');
  }
  const name = PRE_NAMES[pre];
  if (name === undefined) {
    warn(`tokenizer: pre-tokenizer "${pre}" is not supported; falling back to gpt2's pattern (tokens may differ from llama.cpp)`);
    return makePreTokenizer('gpt2');
  }
  return makePreTokenizer(name);
}

/** Every `tokenizer.ggml.pre` value handled exactly. */
export const SUPPORTED_PRE: readonly string[] = Object.keys(PRE_NAMES);

function splitByRegexes(text: string, regexes: readonly RegExp[]): string[] {
  let pieces = [text];
  for (const re of regexes) {
    const out: string[] = [];
    for (const piece of pieces) splitOne(piece, re, out);
    pieces = out;
  }
  return pieces;
}

/** Matches of `re` in `text` and the unmatched gaps between them, in order. */
function splitOne(text: string, re: RegExp, out: string[]): void {
  re.lastIndex = 0;
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const start = m.index;
    const end = start + m[0].length;
    if (start > last) out.push(text.slice(last, start));
    if (end > start) {
      out.push(m[0]);
    } else {
      // empty match: step over one code point (llama.cpp emits an empty word, which yields no tokens)
      const c = text.charCodeAt(end);
      re.lastIndex = end + (c >= 0xd800 && c <= 0xdbff && end + 1 < text.length ? 2 : 1);
    }
    last = end;
  }
  if (last < text.length) out.push(text.slice(last));
}
