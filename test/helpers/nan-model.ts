/**
 * A generated model whose output projection is all NaN, written as a real GGUF: the forward pass runs,
 * and every logit comes out NaN, as with corrupt weights. Made by patching output.weight's data in a
 * copy of the cached tiny llama model (F32, untied output), located through the GGUF reader.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { GgmlType } from '../../daemon/gguf/ggml-types.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

export async function writeNanOutputModel(dir: string): Promise<string> {
  const source = await ensureModel({ arch: 'llama', preset: 'tiny', weightType: 'F32', tied_output: false });
  const file = await openGguf(source);
  let offset: number;
  let byteSize: number;
  try {
    const t = file.tensorByName.get('output.weight');
    if (!t || t.type !== GgmlType.F32) throw new Error(`${source}: no F32 output.weight to spoil`);
    ({ offset, byteSize } = t);
  } finally {
    await file.close();
  }
  const bytes = await readFile(source);
  for (let at = offset; at < offset + byteSize; at += 4) bytes.writeFloatLE(NaN, at);
  const path = join(dir, 'nan-output.gguf');
  await writeFile(path, bytes);
  return path;
}
