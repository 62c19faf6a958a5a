import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { StatusParams } from '../../daemon/protocol';
import { describeStatus } from '../../extension/status-text';

const base: StatusParams = { state: 'ready', progress: 100, modelName: 'moecode-coder', modelPath: '/m.gguf', adapter: 'SwiftShader Device (vulkan)', backend: 'gpu', threads: 0, isSoftwareFallback: false, lastPrefillTokPerSec: 0, lastDecodeTokPerSec: 0 };

test('each state has its words: loading with %, ready with tok/s, generating, error, no model', () => {
  assert.match(describeStatus({ ...base, state: 'loading', progress: 42.4 }, 'running').text, /moecode-coder: loading 42%/);
  assert.match(describeStatus({ ...base, lastDecodeTokPerSec: 12.345 }, 'running').text, /moecode-coder: ready · 12\.3 tok\/s/);
  assert.match(describeStatus({ ...base, state: 'busy' }, 'running').text, /generating/);
  const err = describeStatus({ ...base, state: 'error', message: 'bad file' }, 'running');
  assert.equal(err.severity, 'error');
  assert.match(err.tooltip, /bad file/);
  assert.match(describeStatus({ ...base, state: 'unloaded', modelName: '' }, 'running').text, /no model/);
});

test('a software (CPU) adapter is marked in the text and the tooltip', () => {
  const d = describeStatus({ ...base, isSoftwareFallback: true }, 'running');
  assert.match(d.text, /CPU/);
  assert.match(d.tooltip, /software \(CPU\) fallback/);
  assert.equal(d.severity, 'warning');
  assert.doesNotMatch(describeStatus(base, 'running').text, /CPU/);
});

test('the CPU backend shows its thread count in the text and names itself in the tooltip', () => {
  const d = describeStatus({ ...base, backend: 'cpu', threads: 4, adapter: 'CPU: WebAssembly SIMD, 4 threads', lastDecodeTokPerSec: 30 }, 'running');
  assert.match(d.text, /ready · CPU ×4 · 30\.0 tok\/s/);
  assert.match(d.tooltip, /Backend: CPU: WebAssembly SIMD, 4 threads/);
  assert.equal(d.severity, 'ok');
});

test('the client state wins: starting, restarting, stopped', () => {
  assert.match(describeStatus(undefined, 'starting').text, /starting/);
  assert.match(describeStatus(base, 'restarting').text, /restarting/);
  assert.equal(describeStatus(base, 'failed').severity, 'error');
});

test('a remote server: host and model when ready, connecting, unreachable and a refused key as errors that name the host', () => {
  const remote = { ...base, modelName: 'Qwen/Qwen2.5-Coder-32B', modelPath: '', adapter: '' };
  const r = { url: 'http://gpu-box:30000/v1', model: 'Qwen/Qwen2.5-Coder-32B', fim: 'qwen-coder' as const };
  const ready = describeStatus({ ...remote, lastDecodeTokPerSec: 41.25, remote: { ...r, state: 'ok' } }, 'running');
  assert.match(ready.text, /cloud\) Qwen\/Qwen2\.5-Coder-32B: ready · 41\.3 tok\/s/);
  assert.equal(ready.severity, 'ok');
  assert.match(ready.tooltip, /remote server http:\/\/gpu-box:30000\/v1/);
  assert.match(ready.tooltip, /qwen-coder FIM template/);
  assert.match(describeStatus({ ...remote, state: 'busy', remote: { ...r, state: 'ok' } }, 'running').text, /generating/);
  assert.match(describeStatus({ ...remote, state: 'loading', remote: { ...r, state: 'connecting' } }, 'running').text, /connecting to gpu-box:30000/);
  const down = describeStatus({ ...remote, state: 'error', remote: { ...r, state: 'unreachable', message: 'http://gpu-box:30000/v1/models is unreachable (ECONNREFUSED)' } }, 'running');
  assert.match(down.text, /gpu-box:30000 unreachable/);
  assert.equal(down.severity, 'error');
  assert.match(down.tooltip, /ECONNREFUSED/);
  const refused = describeStatus({ ...remote, state: 'error', remote: { ...r, state: 'unauthorized' } }, 'running');
  assert.match(refused.text, /gpu-box:30000 refused the API key/);
  assert.match(refused.tooltip, /Set Remote API Key/);
  assert.doesNotMatch(ready.text, /CPU/);
});

test('experts split between GPU and host: share on the GPU and hit rate in the text, the figures in the tooltip', () => {
  const experts = { onGpu: 6, total: 16, hitRate: 0.912, prefetchAccuracy: 0.64, uploadedBytesPerToken: 3 * 2 ** 20 };
  const d = describeStatus({ ...base, experts, lastDecodeTokPerSec: 20 }, 'running');
  assert.match(d.text, /ready · experts 38% on GPU · hit 91% · 20\.0 tok\/s/);
  assert.match(d.tooltip, /Experts: 6 of 16 on the GPU \(38%\), the others in host memory; expert cache hit 91%, prefetch accuracy 64%, 3\.00 MiB uploaded per token/);
  assert.match(describeStatus({ ...base, state: 'busy', experts }, 'running').text, /generating · experts 38% on GPU · hit 91%/);
  const all = describeStatus({ ...base, experts: { onGpu: 16, total: 16, hitRate: 1, uploadedBytesPerToken: 0 } }, 'running');
  assert.doesNotMatch(all.text, /experts/, 'nothing to say in the text when every expert is on the GPU');
  assert.match(all.tooltip, /Experts: all 16 on the GPU/);
  assert.doesNotMatch(describeStatus(base, 'running').tooltip, /Experts/);
});
