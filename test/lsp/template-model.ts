/**
 * The LSP tests' generated model (TEST_MODEL_SPEC) with another `tokenizer.chat_template`, written with
 * the GGUF writer from the generator's own metadata and tensors. With `llama3Tokens`, the last merged
 * tokens of the vocabulary become Llama-3's control tokens (<|begin_of_text|>, <|start_header_id|>,
 * <|end_header_id|>, <|eot_id|>; their merges are dropped), so a Llama-3 style template has real markers.
 */
import { join } from 'node:path';
import { meta, writeGguf, type GgufMetaEntry } from '../../daemon/gguf/gguf-writer.js';
import { modelMetadata, planTensors, tensorValues } from '../../tools/modelgen/generate-model.js';
import { resolveSpec } from '../../tools/modelgen/model-spec.js';
import { TOKEN_TYPE_CONTROL } from '../../tools/modelgen/tokenizer-vocab.js';
import { TEST_MODEL_SPEC } from './daemon-harness.js';

export const LLAMA3_CONTROL_TOKENS = ['<|begin_of_text|>', '<|start_header_id|>', '<|end_header_id|>', '<|eot_id|>'] as const;

export async function writeModelWithTemplate(dir: string, name: string, template: string, opts: { llama3Tokens?: boolean } = {}): Promise<string> {
  const spec = resolveSpec(TEST_MODEL_SPEC);
  let entries: GgufMetaEntry[] = modelMetadata(spec).map((e) => (e.key === 'tokenizer.chat_template' ? meta.str(e.key, template) : e));
  if (opts.llama3Tokens) entries = withLlama3Tokens(entries);
  const path = join(dir, name);
  await writeGguf(
    path,
    entries,
    planTensors(spec).map((p) => ({ name: p.name, dims: p.dims, type: p.type, data: () => tensorValues(spec, p) })),
  );
  return path;
}

function withLlama3Tokens(entries: GgufMetaEntry[]): GgufMetaEntry[] {
  const get = (key: string) => entries.find((e) => e.key === key)!.value;
  const tokens = [...(get('tokenizer.ggml.tokens') as string[])];
  const types = [...(get('tokenizer.ggml.token_type') as number[])];
  const merges = [...(get('tokenizer.ggml.merges') as string[])];
  const n = LLAMA3_CONTROL_TOKENS.length;
  // merged tokens come in merge order, just before the special tokens: the last n merges made the last n of them
  const firstSpecial = types.indexOf(TOKEN_TYPE_CONTROL);
  const renamed = Array.from({ length: n }, (_, i) => firstSpecial - n + i);
  const dropped = new Set(renamed.map((id) => tokens[id]!));
  const kept = merges.filter((m) => !dropped.has(m.replace(' ', '')));
  if (merges.length - kept.length !== n) throw new Error(`expected to drop ${n} merges, dropped ${merges.length - kept.length}`);
  renamed.forEach((id, i) => {
    tokens[id] = LLAMA3_CONTROL_TOKENS[i]!;
    types[id] = TOKEN_TYPE_CONTROL;
  });
  const replace: Record<string, GgufMetaEntry> = {
    'tokenizer.ggml.tokens': meta.arrStr('tokenizer.ggml.tokens', tokens),
    'tokenizer.ggml.token_type': meta.arrI32('tokenizer.ggml.token_type', types),
    'tokenizer.ggml.merges': meta.arrStr('tokenizer.ggml.merges', kept),
    'tokenizer.ggml.bos_token_id': meta.u32('tokenizer.ggml.bos_token_id', renamed[0]!),
    'tokenizer.ggml.eot_token_id': meta.u32('tokenizer.ggml.eot_token_id', renamed[3]!),
  };
  return entries.map((e) => replace[e.key] ?? e);
}
