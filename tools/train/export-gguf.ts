/**
 * Turns the raw weights written by tools/train/export-weights.py (an .f32 file + JSON manifest) and the
 * BPE tokenizer (tokenizer.json from tools/train/bpe.py) into a qwen3moe GGUF with the project's writer.
 *
 * Types: the expert tensors (ffn_{gate,up,down}_exps) as Q8_0, the other matrices as F16, norms and the
 * router as F32 (the router decides top-k; keeping it exact avoids flipped expert choices).
 *
 * Usage: npx tsx tools/train/export-gguf.ts [manifest.json] [out.gguf] [--f32] [--fim-order=spm|psm]
 *   --fim-order: the order the FIM samples were trained in (prep-data.py --fim-order; default spm)
 *   defaults: tools/train/work/export/weights.json → models/moecode-coder.gguf
 */
import { open, readFile, stat } from 'node:fs/promises';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { FIM_ORDER_KEY, parseFimOrder, type FimOrder } from '../../daemon/gguf/moecode-keys.js';
import { meta, writeGguf } from '../../daemon/gguf/gguf-writer.js';
import type { GgufMetaEntry, GgufWriteTensor } from '../../daemon/gguf/gguf-writer.js';

export interface TrainConfig {
  n_vocab: number; n_ctx: number; n_embd: number; n_layer: number; n_head: number; n_head_kv: number;
  head_dim: number; n_expert: number; n_expert_used: number; n_ff_exp: number; rope_freq_base: number;
  rms_eps: number; tie_embd: boolean;
}

export interface WeightManifest {
  config: TrainConfig;
  step: number;
  tokenizer: string;
  weights: string;
  tensors: { name: string; dims: number[]; offset: number; n: number }[];
}

export interface BpeSpec {
  tokens: string[];
  merges: string[];
  special: Record<string, number>;
  pre: string;
}

/** llama.cpp token types (llama_token_type in llama-vocab.h). */
const TOKEN_TYPE_NORMAL = 1;
const TOKEN_TYPE_CONTROL = 3;

export const CHATML_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

export function tensorType(name: string, allF32 = false): GgmlType {
  if (allF32) return GgmlType.F32;
  if (/ffn_(gate|up|down)_exps/.test(name)) return GgmlType.Q8_0;
  if (/norm|ffn_gate_inp/.test(name)) return GgmlType.F32;
  return GgmlType.F16;
}

export function buildMetadata(cfg: TrainConfig, bpe: BpeSpec, step: number, allF32 = false, fimOrder: FimOrder = 'spm'): GgufMetaEntry[] {
  const a = 'qwen3moe';
  const sp = (s: string): number => {
    const id = bpe.special[s];
    if (id === undefined) throw new Error(`tokenizer lacks special token ${s}`);
    return id;
  };
  const tokenType = bpe.tokens.map((t) => (Object.hasOwn(bpe.special, t) ? TOKEN_TYPE_CONTROL : TOKEN_TYPE_NORMAL));
  return [
    meta.str('general.architecture', a),
    meta.str('general.name', 'MoeCode Coder'),
    meta.str('general.license', 'MIT'),
    meta.str('general.description', `Small qwen3moe code model trained by tools/train (step ${step})`),
    meta.u32('general.file_type', allF32 ? 0 : 7), // ALL_F32 or MOSTLY_Q8_0
    meta.u32('general.quantization_version', 2),
    meta.u32(`${a}.context_length`, cfg.n_ctx),
    meta.u32(`${a}.embedding_length`, cfg.n_embd),
    meta.u32(`${a}.block_count`, cfg.n_layer),
    meta.u32(`${a}.attention.head_count`, cfg.n_head),
    meta.u32(`${a}.attention.head_count_kv`, cfg.n_head_kv),
    meta.u32(`${a}.attention.key_length`, cfg.head_dim),
    meta.u32(`${a}.attention.value_length`, cfg.head_dim),
    meta.f32(`${a}.attention.layer_norm_rms_epsilon`, cfg.rms_eps),
    meta.f32(`${a}.rope.freq_base`, cfg.rope_freq_base),
    meta.u32(`${a}.rope.dimension_count`, cfg.head_dim),
    meta.u32(`${a}.expert_count`, cfg.n_expert),
    meta.u32(`${a}.expert_used_count`, cfg.n_expert_used),
    meta.u32(`${a}.expert_feed_forward_length`, cfg.n_ff_exp),
    meta.str('tokenizer.ggml.model', 'gpt2'),
    meta.str('tokenizer.ggml.pre', bpe.pre),
    meta.arrStr('tokenizer.ggml.tokens', bpe.tokens),
    meta.arrI32('tokenizer.ggml.token_type', tokenType),
    meta.arrStr('tokenizer.ggml.merges', bpe.merges),
    meta.u32('tokenizer.ggml.bos_token_id', sp('<|endoftext|>')),
    meta.u32('tokenizer.ggml.eos_token_id', sp('<|endoftext|>')),
    meta.u32('tokenizer.ggml.eot_token_id', sp('<|im_end|>')),
    meta.u32('tokenizer.ggml.padding_token_id', sp('<|endoftext|>')),
    meta.bool('tokenizer.ggml.add_bos_token', false),
    meta.u32('tokenizer.ggml.fim_pre_token_id', sp('<|fim_prefix|>')),
    meta.u32('tokenizer.ggml.fim_suf_token_id', sp('<|fim_suffix|>')),
    meta.u32('tokenizer.ggml.fim_mid_token_id', sp('<|fim_middle|>')),
    meta.u32('tokenizer.ggml.fim_pad_token_id', sp('<|fim_pad|>')),
    meta.u32('tokenizer.ggml.fim_sep_token_id', sp('<|file_sep|>')),
    // the token order of the model's fill-in-the-middle training (read by the daemon's FIM prompt builder)
    meta.str(FIM_ORDER_KEY, fimOrder),
    meta.str('tokenizer.chat_template', CHATML_TEMPLATE),
  ];
}

/** Writes the GGUF; `allF32` keeps every tensor in F32 (for exact conformance checks). */
export async function exportGguf(manifestPath: string, outPath: string, allF32 = false, fimOrder: FimOrder = 'spm'): Promise<void> {
  const m = JSON.parse(await readFile(manifestPath, 'utf8')) as WeightManifest;
  const bpe = JSON.parse(await readFile(m.tokenizer, 'utf8')) as BpeSpec;
  if (bpe.tokens.length !== m.config.n_vocab) throw new Error(`tokenizer has ${bpe.tokens.length} tokens, model ${m.config.n_vocab}`);
  const fh = await open(m.weights, 'r');
  try {
    const tensors: GgufWriteTensor[] = m.tensors.map((t) => ({
      name: t.name,
      dims: t.dims,
      type: tensorType(t.name, allF32),
      data: async () => {
        const buf = Buffer.alloc(t.n * 4);
        const { bytesRead } = await fh.read(buf, 0, buf.length, t.offset);
        if (bytesRead !== buf.length) throw new Error(`${t.name}: short read`);
        // copy into an aligned Float32Array (little-endian host)
        return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
      },
    }));
    await writeGguf(outPath, buildMetadata(m.config, bpe, m.step, allF32, fimOrder), tensors);
  } finally {
    await fh.close();
  }
}

const isMain = process.argv[1]?.endsWith('export-gguf.ts') ?? false;
async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const allF32 = args.includes('--f32');
  const orderArg = args.find((a) => a.startsWith('--fim-order='));
  const fimOrder = parseFimOrder(orderArg ? orderArg.slice('--fim-order='.length) : 'spm');
  const pos = args.filter((a) => !a.startsWith('--'));
  const manifest = pos[0] ?? 'tools/train/work/export/weights.json';
  const out = pos[1] ?? 'models/moecode-coder.gguf';
  await exportGguf(manifest, out, allF32, fimOrder);
  const { size } = await stat(out);
  console.log(`wrote ${out}: ${(size / 1e6).toFixed(2)} MB`);
}
if (isMain) {
  main().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
}
