/**
 * evalModel (daemon/cli/eval.ts) on the WebGPU backend alone: the model's config is read with the weight
 * types that backend has kernels for (GPU_WEIGHT_TYPES), so formats whose CPU kernels do not exist yet
 * load, and the backend is created directly (no backend choice). Same result shape as evalModel: the
 * log-softmax after every prompt position, then greedy tokens continued from the prompt's end.
 */
import { logSoftmax, type EvalResult } from '../../daemon/cli/eval.js';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { GPU_WEIGHT_TYPES, GpuBackend } from '../../daemon/gpu/gpu-backend.js';
import { readModelConfig } from '../../daemon/model/hparams.js';
import { modelWeights } from '../../daemon/model/model-weights.js';

export interface GpuEvalOptions {
  /** Force a smaller binding limit so large tensors are split into row shards. */
  maxBindingBytes?: number;
  /** Largest prefill chunk (the prompt is fed in chunks of this many tokens). */
  maxBatch?: number;
}

function argmax(v: Float32Array): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

export async function evalOnGpu(modelPath: string, tokens: number[], nGreedy: number, opts: GpuEvalOptions = {}): Promise<EvalResult> {
  const file = await openGguf(modelPath);
  try {
    const cfg = readModelConfig(file, { weightTypes: GPU_WEIGHT_TYPES });
    const maxBatch = opts.maxBatch ?? 64;
    const backend = await GpuBackend.load(file, cfg, modelWeights(file, cfg), {
      nCtx: Math.max(tokens.length + nGreedy + 1, 64),
      nSlots: 1,
      maxBatch,
      allLogits: true,
      gpuOptions: { adapter: 'auto', maxBindingBytes: opts.maxBindingBytes },
    });
    try {
      const V = cfg.n_vocab;
      const logprobs: Float32Array[] = [];
      let last: Float32Array = new Float32Array(0);
      for (let i = 0; i < tokens.length; i += maxBatch) {
        const chunk = tokens.slice(i, i + maxBatch);
        const logits = await backend.logits({ slot: 0, pos: i, tokens: chunk });
        for (let r = 0; r < chunk.length; r++) logprobs.push(logSoftmax((last = logits.subarray(r * V, (r + 1) * V))));
      }
      const greedy: number[] = [];
      let pos = tokens.length;
      if (nGreedy > 0) greedy.push(argmax(last));
      while (greedy.length < nGreedy) {
        greedy.push(await backend.sample({ slot: 0, pos, tokens: [greedy[greedy.length - 1]!] }, { temperature: 0, topK: 1, topP: 1, seed: 0 }, pos));
        pos++;
      }
      return { logprobs, greedy, shardedMatrices: backend.memory.shardedMatrices ?? 0 };
    } finally {
      await backend.dispose();
    }
  } finally {
    await file.close();
  }
}
