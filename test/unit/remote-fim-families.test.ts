/** Model ids as Hugging Face, Ollama and LM Studio spell them map to the right FIM family; others to none. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FIM_FAMILIES } from '../../daemon/protocol.js';
import { normalizeBaseUrl } from '../../daemon/remote/base-url.js';
import { RemoteConfigError } from '../../daemon/remote/errors.js';
import { RemoteHttpClient } from '../../daemon/remote/http-client.js';
import { detectFimFamily, FIM_FAMILY_TABLE, fimFamilyFor, stopStringAt } from '../../daemon/remote/fim-families.js';
import { prefixWindow, suffixWindow } from '../../daemon/remote/remote-completion.js';

const IDS: [string, string | undefined][] = [
  ['Qwen/Qwen2.5-Coder-32B-Instruct', 'qwen-coder'],
  ['qwen2.5-coder:7b-base', 'qwen-coder'],
  ['qwen2.5-coder-1.5b-instruct', 'qwen-coder'],
  ['Qwen/Qwen3-Coder-480B-A35B-Instruct', 'qwen-coder'],
  ['qwen3-coder:30b', 'qwen-coder'],
  ['deepseek-ai/deepseek-coder-6.7b-base', 'deepseek-coder'],
  ['deepseek-coder-v2:16b', 'deepseek-coder'],
  ['deepseek-ai/DeepSeek-Coder-V2-Lite-Base', 'deepseek-coder'],
  ['mistralai/Codestral-22B-v0.1', 'codestral'],
  ['codestral:22b', 'codestral'],
  ['bigcode/starcoder2-15b', 'starcoder2'],
  ['starcoder2:3b', 'starcoder2'],
  ['codellama/CodeLlama-7b-hf', 'codellama'],
  ['codellama:7b-code', 'codellama'],
  ['ibm-granite/granite-8b-code-base-4k', 'granite-code'],
  ['granite-code:8b', 'granite-code'],
  ['ibm-granite/granite-4.0-h-tiny', 'granite4'],
  ['granite4:micro', 'granite4'],
  ['meta-llama/Llama-3.1-8B-Instruct', undefined],
  ['xai-org/grok-1', undefined],
  ['Qwen/Qwen2.5-7B-Instruct', undefined],
  ['deepseek-ai/DeepSeek-V3', undefined],
];

test('auto detection from model ids', () => {
  for (const [id, family] of IDS) assert.equal(detectFimFamily(id)?.id, family, id);
});

test('the setting names a family regardless of the id; every family in protocol.ts has a row keyed by its id', () => {
  assert.equal(fimFamilyFor('codestral', 'xai-org/grok-1')?.id, 'codestral');
  assert.equal(fimFamilyFor('auto', 'xai-org/grok-1'), undefined);
  for (const id of FIM_FAMILIES) {
    const f = FIM_FAMILY_TABLE[id];
    assert.equal(f.id, id);
    assert.ok(f.stop.length >= 1);
    // the prompt holds the prefix and the suffix once each, nothing of one inside the other
    const p = f.render('<<P>>', '<<S>>');
    assert.equal(p.split('<<P>>').length, 2, id);
    assert.equal(p.split('<<S>>').length, 2, id);
  }
});

test('stopStringAt finds the earliest stop string', () => {
  assert.equal(stopStringAt('abc<EOT>def</s>', ['</s>', '<EOT>']), 3);
  assert.equal(stopStringAt('abc', ['</s>']), undefined);
  assert.equal(stopStringAt('abc', []), undefined);
});

test('prefix and suffix windows keep whole lines and the text next to the cursor', () => {
  const prefix = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n    ret';
  const w = prefixWindow(prefix, 60);
  assert.ok(w.length <= 60 && prefix.endsWith(w) && w.startsWith('line '), w);
  assert.equal(prefixWindow('short', 60), 'short');
  const suffix = '\n' + Array.from({ length: 100 }, (_, i) => `after ${i}`).join('\n');
  const s = suffixWindow(suffix, 50);
  assert.ok(s.length <= 50 && suffix.startsWith(s) && s.endsWith('\n'), JSON.stringify(s));
});

test('base URLs: trailing slashes go, a bare host gets /v1, only http(s) without credentials', () => {
  assert.equal(normalizeBaseUrl('http://gpu-box:30000/v1/'), 'http://gpu-box:30000/v1');
  assert.equal(normalizeBaseUrl(' http://localhost:11434 '), 'http://localhost:11434/v1');
  assert.equal(normalizeBaseUrl('https://api.example.com/openai/v1'), 'https://api.example.com/openai/v1');
  for (const bad of ['gpu-box:30000', 'ftp://gpu-box/v1', 'not a url', 'http://user:secret@gpu-box/v1']) assert.throws(() => normalizeBaseUrl(bad), RemoteConfigError, bad);
});

test('endpoints sit under the base URL, /infill under its root, a query string stays on each', () => {
  const c = new RemoteHttpClient('http://gpu-box:30000/v1', { apiKey: () => undefined });
  assert.equal(c.endpoint('chat/completions'), 'http://gpu-box:30000/v1/chat/completions');
  assert.equal(c.rootEndpoint('infill'), 'http://gpu-box:30000/infill');
  const q = new RemoteHttpClient('https://proxy.example/openai/v1?api-version=2024-06-01', { apiKey: () => undefined });
  assert.equal(q.endpoint('models'), 'https://proxy.example/openai/v1/models?api-version=2024-06-01');
  assert.equal(q.rootEndpoint('infill'), 'https://proxy.example/openai/infill?api-version=2024-06-01');
});
