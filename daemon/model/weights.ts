/**
 * Backend-neutral handles of a model's weights: what a tensor is (name, type, shape), never where it
 * lives. The forward pass is written against these; each backend maps a handle to its own storage (GPU
 * buffers, a CPU worker's memory, an expert cache) when it loads or places the model.
 */
import type { GgmlType } from '../gguf/ggml-types.js';

/** A weight matrix [rows, cols] (ggml ne = [cols, rows]): y = W·x has `rows` outputs of `cols` inputs. */
export interface WeightHandle {
  /** Where it comes from: the GGUF tensor name. */
  readonly tensor: string;
  /** Unique label: the tensor name without `.weight`, plus `.e<expert>` for one slab of an expert tensor. */
  readonly name: string;
  readonly type: GgmlType;
  readonly rows: number;
  readonly cols: number;
  /** Slab index along the third dimension of a 3-D expert tensor {cols, rows, n_expert}. */
  readonly expert?: number;
}

/** An f32 vector (norm weights, biases), F32 or F16 in the file. */
export interface VectorHandle {
  readonly tensor: string;
  readonly name: string;
  readonly n: number;
}

/** The routed experts of one layer, one slab per expert: gate and up [n_ff_exp, n_embd], down [n_embd, n_ff_exp]. */
export interface ExpertWeights {
  gate: WeightHandle[];
  up: WeightHandle[];
  down: WeightHandle[];
}

export interface SharedExpert {
  gate: WeightHandle;
  up: WeightHandle;
  down: WeightHandle;
  /** [n_embd, 1] gate of a sigmoid-gated shared expert (qwen2moe); absent: added unweighted. */
  gateInp?: WeightHandle;
}

/** Every weight matrix of a layer's experts, in load order (gate, up, down per expert). */
export function expertMatrices(e: ExpertWeights): WeightHandle[] {
  const out: WeightHandle[] = [];
  e.up.forEach((_, i) => {
    out.push(e.gate[i]!, e.up[i]!, e.down[i]!);
  });
  return out;
}
