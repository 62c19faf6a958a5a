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
