// The chat panel's notice line (extension/chat/chat-notice.ts): the daemon's run state first, then a remote
// server's health while moecode.remote.url is set, then the local model's state.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { RemoteStatus, StatusParams } from '../../daemon/protocol';
import { chatNotice } from '../../extension/chat/chat-notice';

const local: StatusParams = { state: 'ready', progress: 100, modelName: 'moecode-coder', modelPath: '/m.gguf', adapter: 'CPU: WebAssembly SIMD, 2 threads', backend: 'cpu', threads: 2, isSoftwareFallback: false, lastPrefillTokPerSec: 0, lastDecodeTokPerSec: 0 };
const remote = (r: Partial<RemoteStatus>, state: StatusParams['state'] = 'error'): StatusParams => ({
  ...local,
  state,
  modelName: '',
  modelPath: '',
  adapter: '',
  remote: { url: 'http://gpu-box:8000', state: 'ok', model: 'grok-1', fim: 'suffix', ...r },
});

test('a local model: nothing when ready; loading, load errors and no model each say what to do', () => {
  assert.equal(chatNotice('running', local), undefined);
  assert.equal(chatNotice('running', { ...local, state: 'loading', progress: 41.6 }), 'Loading moecode-coder… 42%');
  assert.match(chatNotice('running', { ...local, state: 'error', message: 'bad magic' })!, /could not be loaded: bad magic\. Use "MoeCode: Select Model"/);
  assert.match(chatNotice('running', { ...local, state: 'unloaded', modelName: '' })!, /No model is loaded/);
  assert.match(chatNotice('running', { ...local, isSoftwareFallback: true, adapter: 'SwiftShader Device (vulkan)' })!, /software GPU \(SwiftShader Device \(vulkan\)\)/);
});

test('the daemon not running, restarting or starting comes before any model state', () => {
  assert.match(chatNotice('failed', local)!, /daemon is not running/);
  assert.match(chatNotice('restarting', remote({ state: 'unreachable' }))!, /restarting/);
  assert.equal(chatNotice('starting', undefined), 'Starting the MoeCode daemon…');
  assert.equal(chatNotice('stopped', undefined), undefined);
});

test('a remote server: nothing while it answers; unreachable, refused key, error and connecting each name the server', () => {
  assert.equal(chatNotice('running', remote({ state: 'ok' }, 'ready')), undefined);
  assert.equal(chatNotice('running', remote({ state: 'ok' }, 'busy')), undefined);
  const down = chatNotice('running', remote({ state: 'unreachable', message: 'connect ECONNREFUSED 10.0.0.2:8000' }))!;
  assert.match(down, /^The remote server http:\/\/gpu-box:8000 cannot be reached: connect ECONNREFUSED 10\.0\.0\.2:8000\. MoeCode keeps trying/);
  assert.match(down, /"moecode\.remote\.url"/);
  assert.doesNotMatch(down, /could not be loaded|Select Model/, 'not the local model\'s words');
  assert.match(chatNotice('running', remote({ state: 'unauthorized', message: '401 Unauthorized' }))!, /refused the API key: 401 Unauthorized\. Use "MoeCode: Set Remote API Key…"/);
  assert.equal(chatNotice('running', remote({ state: 'error' })), 'The remote server http://gpu-box:8000 answered with an error.');
  assert.equal(chatNotice('running', remote({ state: 'connecting' }, 'loading')), 'Connecting to the remote server http://gpu-box:8000…');
});
