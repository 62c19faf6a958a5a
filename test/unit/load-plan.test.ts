/**
 * The daemon's first look at a model (features/load-plan.ts) counts the weights the backend will hold: on
 * the CPU backend every weight, routed experts included; on the GPU backend the experts beyond the budget
 * live on the host, so they are not counted. Under `auto` the backend the model being replaced runs on
 * decides, so a switch on a machine where `auto` means the CPU plans (and unloads the old model) with the
 * figure the engine's own fit check will use.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openGguf } from '../../daemon/gguf/gguf-reader.js';
import { planLoad } from '../../daemon/features/load-plan.js';
import { weightBytesByClass } from '../../daemon/model/memory-plan.js';
import { DEFAULT_SETTINGS, type MoecodeSettings } from '../../daemon/protocol.js';
import { ensureModel } from '../../tools/modelgen/model-cache.js';

const withBackend = (backend: MoecodeSettings['engine']['backend']): MoecodeSettings => ({ ...DEFAULT_SETTINGS, engine: { ...DEFAULT_SETTINGS.engine, backend } });

test('weights planned per backend: every weight on the CPU (chosen, or what auto chose before), the non-expert part otherwise', async () => {
  const path = await ensureModel({ arch: 'olmoe', preset: 'tiny', weightType: 'Q8_0' });
  const file = await openGguf(path);
  const { weights, byClass } = weightBytesByClass(file);
  await file.close();
  const experts = byClass['experts'] ?? 0;
  assert.ok(experts > 0, 'an MoE model has routed experts');
  assert.equal((await planLoad(path, withBackend('cpu'))).weightsBytes, weights);
  assert.equal((await planLoad(path, withBackend('auto'), { autoResolvedTo: 'cpu' })).weightsBytes, weights);
  assert.equal((await planLoad(path, withBackend('auto'), { autoResolvedTo: 'gpu' })).weightsBytes, weights - experts);
  assert.equal((await planLoad(path, withBackend('auto'))).weightsBytes, weights - experts, 'no model yet: counted as the GPU backend would hold it');
  assert.equal((await planLoad(path, withBackend('gpu'), { autoResolvedTo: 'cpu' })).weightsBytes, weights - experts, 'an explicit gpu setting wins');
});
