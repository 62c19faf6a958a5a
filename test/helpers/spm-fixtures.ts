/**
 * SentencePiece test material: awkward texts, seeded random texts, small hand-made vocabularies that
 * each exercise one rule of llama.cpp's SPM tokenizer, and a writer for vocabulary-only GGUF files
 * (a "llama" header and tokenizer keys, no tensors) that llama.cpp loads with `vocabOnly`.
 */
import { meta, writeGguf, type GgufMetaEntry } from '../../daemon/gguf/gguf-writer.js';
import { randomTexts } from './random-text.js';

/** Texts that have broken tokenizers before: spaces, tabs, newlines, CJK, emoji, control-token text, odd code points. */
export const AWKWARD_TEXTS = [
  '', ' ', '  ', '   leading', 'trailing   ', 'a  b   c    d', '\t', '\ttab\tseparated\t', '\n', '\n\n\n', 'line1\nline2\r\nline3\r',
  ' '.repeat(40) + 'x', 'x' + ' '.repeat(17), '    return value;\n', '\t\tindent(with, tabs);\n',
  'def fib(n: int) -> int:\n    """Return the n-th Fibonacci number."""\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n\n',
  'function add(a, b) {\n\treturn a + b; // sum\n}\n',
  '#include <stdio.h>\nint main(void) { printf("%d\\n", 0x1F & 255); return 0; }\r\n',
  "const re = /^\\s*(\\d{1,3})$/u; let s = `${a}px`; x ??= y?.z ?? 'default';",
  'SELECT id, name FROM users WHERE age > 30 ORDER BY name DESC;',
  'The café on the corner serves crème brûlée; señor Müller orders a smörgåsbord.',
  '日本語のテキスト', '中文文本和日本語', '한국어 텍스트', 'Ελληνικά Русский текст עברית العربية हिन्दी ไทย',
  'emoji 😀👍🏽 family 👨‍👩‍👧 flag 🇯🇵 keycap 1️⃣', '😀', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈',
  '</s>', '<s>', '<unk>', 'text</s>more<s>end', '<s><s></s>', '[INST] hello [/INST]', '<0x41><0x0A>', '▁', '▁▁x ▁', '▁<PRE> a ▁<SUF> b ▁<MID>',
  '\u0000', '\u0001\u0002\u001f\u007f', '\u00a0nbsp\u2003em\u3000ideographic', '\ufeffbom\u200bzero\u200dwidth', '\ue000\uf8ff private', '\u{10ffff}',
  'e\u0301 a\u0308 n\u0303 \u0915\u094d\u0937', 'Ünïcödé — “quotes” … → €12,50',
  'lone \ud800 high', 'lone \udc00 low', 'a\ud83db',
  'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'ab'.repeat(40), '1234567890 12 123 3.14159 1e-10',
];

/** Seeded random strings from pools of awkward pieces (deterministic for a seed). */
export function spmFuzz(count: number, seed: number): string[] {
  const pools = [
    'abcXYZ', 'the return self def', '0123456789', ' ', '  \t\n\r', '\u00a0\u2003\u3000', '.,;:!?-_()[]{}<>/\\|@#$%^&*+=~`"\'',
    'éüñßçåö', '日本語中文한국어ひらがなカタカナ', '😀👍🏽👨‍👩‍👧🇯🇵', '▁▁▁', '<s></s><unk>', '[INST][/INST]', '<0x41><0xFF>',
  ];
  return randomTexts(pools, count, seed, 24, 5);
}

/** A hand-made vocabulary: tokens with their GGUF metadata. */
export interface HandVocab {
  name: string;
  tokens: string[];
  /** undefined: no `tokenizer.ggml.token_type` key. */
  types?: number[];
  /** undefined: no `tokenizer.ggml.scores` key. */
  scores?: number[];
  /** Scores written as INT32 (llama.cpp accepts both). */
  intScores?: boolean;
  /** Further tokenizer keys (ids, add_* flags). */
  extra: GgufMetaEntry[];
  /** Texts aimed at this vocabulary's rule, tested on top of the common ones. */
  texts: string[];
}

const HEX = '0123456789ABCDEF';

/** <unk> <s> </s> and the 256 byte tokens, Llama's first 259 ids. */
function llamaHead(): { tokens: string[]; types: number[]; scores: number[] } {
  const tokens = ['<unk>', '<s>', '</s>'];
  const types = [2, 3, 3];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${HEX[b >> 4]}${HEX[b & 15]}>`);
    types.push(6);
  }
  return { tokens, types, scores: tokens.map(() => 0) };
}

function withPieces(pieces: [string, number, number?][]): { tokens: string[]; types: number[]; scores: number[] } {
  const h = llamaHead();
  for (const [text, score, type] of pieces) {
    h.tokens.push(text);
    h.scores.push(score);
    h.types.push(type ?? 1);
  }
  return h;
}

const LETTERS: [string, number][] = [...'▁abcdefghilmnorstuxy<>/[]PAD0'].map((c, i) => [c, -100 - i]);

/**
 * Each vocabulary isolates rules: defaults when keys are missing (and equal scores everywhere),
 * no space prefix with int scores and add_eos, merges that reach control and unused tokens,
 * user-defined tokens (one with a space), pieces that contain newlines (so text is not encoded line
 * by line), and an older CodeLlama file whose FIM tokens are normal pieces found by their text.
 */
export function handVocabs(): HandVocab[] {
  const defaults = withPieces([...LETTERS, ['ab', 0], ['bc', 0], ['▁a', 0], ['▁▁', 0], ['he', 0], ['hel', 0], ['lo', 0], ['hello', 0]]);
  const noPrefix = withPieces([...LETTERS, ['ab', -2], ['bc', -2], ['abc', -3], ['▁t', -1], ['he', -1], ['▁the', -1], ['th', -1], ['▁▁', -1]]);
  const reach = withPieces([
    ...LETTERS, ['</', -2], ['s>', -2], ['<s', -2], ['[P', -2], ['AD', -2], ['0]', -2], ['AD0]', -3],
    ['[PAD0]', 0, 5], ['<tool>', 0, 4], ['my token', 0, 4], ['ab', -1], ['▁a', -1],
  ]);
  const newlines = withPieces([...LETTERS, [':\n', -1], ['\n\n', -1], ['\n▁▁', -2], ['▁▁', -3], ['x\n', -1], ['\t', -5], ['\n', -6]]);
  const codellama = withPieces([
    ...LETTERS, ['▁<', -1], ['PR', -1], ['E>', -1], ['▁<PRE>', 0], ['▁<SUF>', 0], ['▁<MID>', 0], ['▁<EOT>', 0], ['<EO', -1],
  ]);
  return [
    {
      name: 'defaults',
      tokens: defaults.tokens,
      extra: [],
      texts: ['abc', 'abcabc', 'hello', ' hello', 'hello  hello', 'cab'],
    },
    {
      name: 'no-space-prefix',
      ...noPrefix,
      intScores: true,
      extra: [
        meta.bool('tokenizer.ggml.add_space_prefix', false),
        meta.bool('tokenizer.ggml.add_bos_token', false),
        meta.bool('tokenizer.ggml.add_eos_token', true),
        meta.u32('tokenizer.ggml.bos_token_id', 1),
        meta.u32('tokenizer.ggml.eos_token_id', 2),
      ],
      texts: ['abc', 'the', ' the', '  the', 'abcabc the'],
    },
    {
      name: 'merges-reach-special',
      ...reach,
      extra: [meta.u32('tokenizer.ggml.unknown_token_id', 0)],
      texts: ['</s>', '<s>', '[PAD0]', 'x[PAD0]y', 'use <tool> here', 'my token is mine', 'amy tokenb', '<tool><tool>my token'],
    },
    {
      name: 'newline-pieces',
      ...newlines,
      extra: [],
      texts: ['def f():\n  x\n\n\ny', '\n\n\n', 'a\n  b', 'x\nx\n\tx', ':\n\n'],
    },
    {
      name: 'codellama-by-text',
      ...codellama,
      extra: [meta.u32('tokenizer.ggml.bos_token_id', 1), meta.u32('tokenizer.ggml.eos_token_id', 2)],
      texts: [' <PRE>', '▁<PRE>', 'x <EOT>', '<PRE> a <SUF> b <MID>'],
    },
  ];
}

/** Writes a vocabulary-only GGUF: a minimal "llama" header and the tokenizer keys. */
export async function writeSpmVocabGguf(path: string, v: HandVocab): Promise<void> {
  const m: GgufMetaEntry[] = [
    meta.str('general.architecture', 'llama'),
    meta.str('general.name', `spm-${v.name}`),
    meta.u32('llama.context_length', 128),
    meta.u32('llama.embedding_length', 64),
    meta.u32('llama.block_count', 1),
    meta.u32('llama.feed_forward_length', 64),
    meta.u32('llama.attention.head_count', 1),
    meta.f32('llama.attention.layer_norm_rms_epsilon', 1e-5),
    meta.str('tokenizer.ggml.model', 'llama'),
    meta.arrStr('tokenizer.ggml.tokens', v.tokens),
  ];
  if (v.scores) m.push(v.intScores ? meta.arrI32('tokenizer.ggml.scores', v.scores) : meta.arrF32('tokenizer.ggml.scores', v.scores));
  if (v.types) m.push(meta.arrI32('tokenizer.ggml.token_type', v.types));
  m.push(...v.extra);
  await writeGguf(path, m, []);
}
