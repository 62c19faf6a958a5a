/**
 * Broken or unusual variants of a generated model (tools/modelgen) for the model-check and fit tests:
 * the generator's metadata and tensor plan, edited, written with the real GGUF writer. Tensor values are
 * zeros (random blocks for types the writer cannot quantize to, zero bytes for types the engine does not run):
 * the checks read headers, not weights.
 */
import { resolveSpec, type ModelSpec, type ModelSpecInput } from '../../tools/modelgen/model-spec.js';
import { modelMetadata, planTensors, tensorBlocks, type PlannedTensor } from '../../tools/modelgen/generate-model.js';
import { RANDOM_BLOCK_TYPES } from '../../tools/modelgen/random-blocks.js';
import { writeGguf, type GgufMetaEntry } from '../../daemon/gguf/gguf-writer.js';
import { ggmlByteSize } from '../../daemon/gguf/ggml-types.js';
import { QUANT_TYPES } from '../../daemon/gguf/quantize.js';

export interface VariantEdits {
  /** Edits the metadata entries (drop, replace, add). */
  meta?: (entries: GgufMetaEntry[]) => GgufMetaEntry[];
  /** Edits the tensor list (drop, reshape). */
  tensors?: (tensors: PlannedTensor[]) => PlannedTensor[];
}

/** Writes the model of `input`, edited, to `path`. */
export async function writeVariant(path: string, input: ModelSpecInput, edits: VariantEdits = {}): Promise<ModelSpec> {
  const spec = resolveSpec(input);
  const entries = (edits.meta ?? ((e) => e))(modelMetadata(spec));
  const tensors = (edits.tensors ?? ((t) => t))(planTensors(spec));
  await writeGguf(
    path,
    entries,
    tensors.map((p) => {
      const n = p.dims.reduce((a, b) => a * b, 1);
      if (RANDOM_BLOCK_TYPES.includes(p.type)) return { name: p.name, dims: p.dims, type: p.type, raw: true, data: () => tensorBlocks(spec, p) };
      if (QUANT_TYPES.includes(p.type)) return { name: p.name, dims: p.dims, type: p.type, data: () => new Float32Array(n) };
      // a type the engine does not run (I16, I32, …): zero bytes of its size
      return { name: p.name, dims: p.dims, type: p.type, raw: true, data: () => new Uint8Array(ggmlByteSize(p.type, n)) };
    }),
  );
  return spec;
}

/** The entries with `key` replaced by `entry` (added when absent). */
export function setMeta(entries: GgufMetaEntry[], entry: GgufMetaEntry): GgufMetaEntry[] {
  const out = entries.filter((e) => e.key !== entry.key);
  out.push(entry);
  return out;
}
