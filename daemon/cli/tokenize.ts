/**
 * `moecode tokenize <model.gguf> --text TEXT [--json]`: the token ids of TEXT as llama.cpp's
 * tokenizer gives them, with the model's own BOS/EOS rule (tokenizer.ggml.add_bos_token /
 * add_eos_token and their defaults) and special tokens NOT parsed ("</s>" in the text stays text).
 * Only the GGUF header and metadata are read; no weights are loaded.
 *   --json   {"ids":[…]}
 *   else     one line per token: id, vocabulary text, decoded text (both JSON-quoted)
 */
import { tokenizerDataFromGguf } from '../engine/tokenizer/gguf-adapter.js';
import { Tokenizer } from '../engine/tokenizer/tokenizer.js';
import { openGguf } from '../gguf/gguf-reader.js';
import { stringFlag, UsageError, type ParsedArgs } from './args.js';

/** The tokenizer of a GGUF file, from its metadata alone. Warnings go to `warn`. */
export async function tokenizerOfFile(path: string, warn: (msg: string) => void): Promise<Tokenizer> {
  const file = await openGguf(path);
  try {
    return Tokenizer.fromData(tokenizerDataFromGguf(file.metadata), { warn });
  } finally {
    await file.close();
  }
}

/** One line per token: `    42  "▁hello"  " hello"`. */
export function formatTokens(tok: Tokenizer, ids: readonly number[]): string {
  const width = Math.max(6, ...ids.map((id) => String(id).length));
  const decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  return ids.map((id) => `${String(id).padStart(width)}  ${JSON.stringify(tok.tokenText(id))}  ${JSON.stringify(decoder.decode(tok.tokenToBytes(id)))}`).join('\n');
}

export async function tokenizeCommand(path: string, args: ParsedArgs): Promise<void> {
  const text = stringFlag(args, 'text');
  if (text === undefined) throw new UsageError('tokenize needs --text TEXT');
  const tok = await tokenizerOfFile(path, (m) => console.error(m));
  const ids = tok.encode(text, { parseSpecial: false });
  if (args.flags.has('json')) process.stdout.write(`${JSON.stringify({ ids })}\n`);
  else process.stdout.write(ids.length > 0 ? `${formatTokens(tok, ids)}\n` : '');
}
