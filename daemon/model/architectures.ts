/** The forward-pass builder of each supported architecture. */
import type { ForwardOps } from './forward-ops.js';
import type { ArchName, ModelConfig } from './hparams.js';
import type { ModelWeights } from './model-weights.js';
import { buildGraniteMoe } from './arch/granitemoe.js';
import { buildGrok } from './arch/grok.js';
import { buildLlama } from './arch/llama.js';
import { buildOlmoe } from './arch/olmoe.js';
import { buildQwen2 } from './arch/qwen2.js';
import { buildQwen2Moe } from './arch/qwen2moe.js';
import { buildQwen3Moe } from './arch/qwen3moe.js';

export type ForwardBuilder = (ops: ForwardOps, cfg: ModelConfig, w: ModelWeights) => void;

export const ARCHITECTURES: Record<ArchName, ForwardBuilder> = {
  grok: buildGrok,
  llama: buildLlama,
  qwen2: buildQwen2,
  qwen2moe: buildQwen2Moe,
  qwen3moe: buildQwen3Moe,
  olmoe: buildOlmoe,
  granitemoe: buildGraniteMoe,
};
