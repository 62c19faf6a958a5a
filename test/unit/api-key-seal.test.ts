/** The API key's seal for LSP (daemon/remote/api-key-seal.ts): round trip, and every wrong input refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeySealError, MAX_SEALED_CHARS, newSealSecret, sealApiKey, unsealApiKey } from '../../daemon/remote/api-key-seal.js';

test('a sealed key opens with its secret, shows nothing of the key, and differs every time', () => {
  const secret = newSealSecret();
  for (const key of ['sk-proj-abc123', 'x', 'k'.repeat(4096), 'ключ-🔑']) {
    const a = sealApiKey(key, secret);
    const b = sealApiKey(key, secret);
    assert.notEqual(a, b, 'a fresh IV per seal');
    assert.equal(unsealApiKey(a, secret), key);
    assert.equal(unsealApiKey(b, secret), key);
    if (key.length > 3) assert.ok(!Buffer.from(a, 'base64').toString('latin1').includes(key.slice(0, 4)));
  }
});

test('another secret, an altered seal, a short or oversized one, or a bad secret: KeySealError, never a wrong key', () => {
  const secret = newSealSecret();
  const sealed = sealApiKey('sk-live-1', secret);
  assert.throws(() => unsealApiKey(sealed, newSealSecret()), KeySealError);
  const bytes = Buffer.from(sealed, 'base64');
  for (let i = 0; i < bytes.length; i++) {
    const t = Buffer.from(bytes);
    t[i]! ^= 0x40;
    assert.throws(() => unsealApiKey(t.toString('base64'), secret), KeySealError, `byte ${i} altered`);
  }
  assert.throws(() => unsealApiKey('', secret), KeySealError);
  assert.throws(() => unsealApiKey('AAAA', secret), KeySealError);
  assert.throws(() => unsealApiKey('A'.repeat(MAX_SEALED_CHARS + 4), secret), /longer than/);
  assert.throws(() => unsealApiKey(sealed, 'c2hvcnQ='), /not 32 bytes/);
  assert.throws(() => sealApiKey('k', ''), KeySealError);
});
