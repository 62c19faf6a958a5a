/**
 * Generate a random GGUF model from the command line.
 *
 *   node --import tsx tools/modelgen/cli.ts --arch qwen3moe --type Q8_0 --out x.gguf [--preset tiny|bench]
 *        [--seed N] [--n_embd N] [--n_layer N] ... (any numeric ModelSpec field) [--tied_output true|false]
 *   node --import tsx tools/modelgen/cli.ts --arch olmoe --cache      # prints the cached model's path
 *   … --arch qwen2 --split 3 --out x-00001-of-00003.gguf            # a split model (writes all parts)
 *   … --arch llama --expert_layout per-expert --rope_freqs true --rope_scaling yarn:4:128
 */
import { parseArgs } from 'node:util';
import { generateModel } from './generate-model.js';
import { ensureModel } from './model-cache.js';
import { ALL_WEIGHT_TYPES, ARCHS, PRESETS, RECIPES, TOKENIZERS, resolveSpec, specHash } from './model-spec.js';
import type { ModelSpecInput, MoeArch, PresetName, RecipeName, TokenizerStyle, WeightTypeName } from './model-spec.js';

const NUMERIC = [
  'n_vocab', 'n_embd', 'n_layer', 'n_head', 'n_head_kv', 'head_dim', 'n_expert', 'n_expert_used', 'n_ff_exp',
  'n_ff_shexp', 'n_ctx', 'rope_freq_base', 'rms_eps', 'seed', 'router_logit_std', 'output_logit_std', 'qk_gain',
] as const;

const USAGE = `usage: cli.ts --arch <${ARCHS.join('|')}> [--type <${ALL_WEIGHT_TYPES.join('|')}>] (--out <file.gguf> | --cache)
       [--biases true|false] [--expert_layout merged|per-expert] [--rope_freqs true|false]
       [--rope_scaling <linear|yarn>:<factor>[:<original context>]] [--split <parts>]
       [--recipe <${RECIPES.join('|')}>] [--tensor-type <pattern>=<type>]... (e.g. 'blk.*.ffn_down_exps.weight=Q6_K')
       [--preset <${PRESETS.join('|')}>] [--router-type <type>] [--tied_output true|false] [--tokenizer ${TOKENIZERS.join('|')}] [--tokenizer_pre qwen2|default]
       [--name <s>] ${NUMERIC.map((k) => `[--${k} <n>]`).join(' ')}`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string' },
      type: { type: 'string' },
      recipe: { type: 'string' },
      'tensor-type': { type: 'string', multiple: true },
      'router-type': { type: 'string' },
      out: { type: 'string' },
      cache: { type: 'boolean', default: false },
      preset: { type: 'string', default: 'tiny' },
      tied_output: { type: 'string' },
      biases: { type: 'string' },
      expert_layout: { type: 'string' },
      rope_freqs: { type: 'string' },
      rope_scaling: { type: 'string' },
      split: { type: 'string' },
      tokenizer: { type: 'string' },
      tokenizer_pre: { type: 'string' },
      name: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
      ...Object.fromEntries(NUMERIC.map((k) => [k, { type: 'string' as const }])),
    },
    strict: true,
  });
  if (values.help || !values.arch || (!values.out && !values.cache)) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const input: ModelSpecInput = {
    arch: values.arch as MoeArch,
    preset: values.preset as PresetName,
  };
  if (values.type) input.weightType = values.type as WeightTypeName;
  if (values.recipe) input.recipe = values.recipe as RecipeName;
  if (values['tensor-type']) {
    const tensorTypes: Record<string, WeightTypeName> = {};
    for (const a of values['tensor-type']) {
      const eq = a.lastIndexOf('=');
      if (eq <= 0) throw new Error(`--tensor-type: expected <pattern>=<type>, got '${a}'`);
      tensorTypes[a.slice(0, eq)] = a.slice(eq + 1) as WeightTypeName;
    }
    input.tensorTypes = tensorTypes;
  }
  if (values['router-type']) input.routerType = values['router-type'] as WeightTypeName;
  if (values.tied_output !== undefined) input.tied_output = values.tied_output === 'true';
  if (values.biases !== undefined) input.biases = values.biases === 'true';
  if (values.expert_layout !== undefined) input.expert_layout = values.expert_layout as ModelSpecInput['expert_layout'];
  if (values.rope_freqs !== undefined) input.rope_freqs = values.rope_freqs === 'true';
  if (values.rope_scaling !== undefined) {
    const [type, factor, orig] = values.rope_scaling.split(':');
    input.rope_scaling = { type: type as 'linear' | 'yarn', factor: Number(factor), ...(orig ? { original_context_length: Number(orig) } : {}) };
  }
  if (values.split !== undefined) input.split_parts = Number(values.split);
  if (values.tokenizer) input.tokenizer = values.tokenizer as TokenizerStyle;
  if (values.tokenizer_pre) input.tokenizer_pre = values.tokenizer_pre as ModelSpecInput['tokenizer_pre'];
  if (values.name) input.name = values.name;
  const v = values as Record<string, string | string[] | boolean | undefined>;
  for (const k of NUMERIC) {
    const s = v[k];
    if (typeof s !== 'string') continue;
    const n = Number(s);
    if (!Number.isFinite(n)) throw new Error(`--${k}: not a number: ${s}`);
    input[k] = n;
  }
  const spec = resolveSpec(input);
  const t0 = performance.now();
  let path: string;
  if (values.cache) {
    path = await ensureModel(spec);
  } else {
    path = values.out!;
    await generateModel(spec, path);
  }
  console.error(`${spec.name} ${spec.recipe ?? spec.weightType} (spec ${specHash(spec)}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  console.log(path);
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  },
);
